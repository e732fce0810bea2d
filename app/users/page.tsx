import { Accounts } from "@/components/Accounts";

export const metadata = { title: "Accounts · Ferry" };

export default function UsersPage() {
  return <Accounts />;
}
