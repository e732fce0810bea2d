import { JobView } from "@/components/jobs/JobView";

export const metadata = { title: "Job · Ferry" };

export default async function JobPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <JobView id={id} />;
}
