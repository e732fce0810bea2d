import { ImportWizard } from "@/components/wizard/ImportWizard";

export const metadata = { title: "Import · Ferry" };

export default function ImportPage() {
  return <ImportWizard />;
}
