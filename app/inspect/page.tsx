import { VmxInspector } from "@/components/VmxInspector";

export const metadata = { title: "Read a VMX · Ferry" };

export default function InspectPage() {
  return <VmxInspector />;
}
