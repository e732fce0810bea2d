import { JobsList } from "@/components/jobs/JobsList";

export const metadata = { title: "Jobs · Ferry" };

export default function JobsPage() {
  return <JobsList />;
}
