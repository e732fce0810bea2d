import { HostsList } from "@/components/HostsList";

export const metadata = { title: "Hosts · Ferry" };

export default function HostsPage() {
  return <HostsList />;
}
