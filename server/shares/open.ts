import type { Input } from "../input/input";
import { localInput } from "../input/local";
import { SshInput } from "../input/ssh";
import type { Share } from "./config";

/**
 * The one place a share's kind picks its input: a local folder is read on
 * this host; an ssh share through one SSH connection per request (browse,
 * scan, preview) or per job, closed when it ends.
 */
export async function openShareInput(share: Share): Promise<Input> {
  if (share.ssh) {
    const s = share.ssh;
    return SshInput.connect({ host: s.host, port: s.port, user: s.user, identityFile: s.identityFile, knownHosts: s.knownHosts });
  }
  return localInput;
}

/** Run `fn` with the share's input open, and close it afterwards whatever happens. */
export async function withShareInput<T>(share: Share, fn: (input: Input) => Promise<T>): Promise<T> {
  const input = await openShareInput(share);
  try {
    return await fn(input);
  } finally {
    await input.close();
  }
}
