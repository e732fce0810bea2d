import type { Metadata } from "next";
import { headers } from "next/headers";
import Link from "next/link";
import type { ReactNode } from "react";
import { AdminLinks } from "@/components/Nav";
import { SignOut } from "@/components/SignOut";
import { TrpcProvider } from "@/components/TrpcProvider";
import "./globals.css";

export const metadata: Metadata = {
  title: "Ferry",
  description: "Move VMware guests to KVM straight from the NAS where their files live.",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Rendered per request, so each page carries the nonce of its CSP (see proxy.ts).
  await headers();
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
        <TrpcProvider>
          <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <div className="mx-auto flex max-w-6xl items-center gap-3 px-4 py-3">
              <Link href="/import" className="text-lg font-semibold tracking-tight">Ferry</Link>
            <span className="hidden text-sm text-slate-500 sm:inline dark:text-slate-400">VMware guests to KVM, straight from the NAS</span>
            <nav aria-label="Main" className="ml-auto flex gap-4 text-sm">
              <Link href="/import" className="hover:underline">Import</Link>
              <Link href="/jobs" className="hover:underline">Jobs</Link>
              <Link href="/hosts" className="hover:underline">Hosts</Link>
              <Link href="/inspect" className="hover:underline">Read a VMX</Link>
              <AdminLinks />
              <SignOut />
            </nav>
          </div>
        </header>
          <main className="mx-auto max-w-6xl px-4 py-6">{children}</main>
        </TrpcProvider>
      </body>
    </html>
  );
}
