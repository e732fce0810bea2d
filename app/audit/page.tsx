import { AuditLog } from "@/components/AuditLog";

export const metadata = { title: "Audit log · Ferry" };

export default function AuditPage() {
  return <AuditLog />;
}
