import { VmxInspector } from "@/components/VmxInspector";

export default function Home() {
  return <VmxInspector />;
}
