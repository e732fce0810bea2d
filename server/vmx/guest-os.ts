import type { GuestOs } from "./source-vm";

/**
 * VMware `guestOS` ids → family and a short osinfo-style id. VMware ids are
 * lowercase-insensitive, `-64` marks 64-bit. Unknown ids keep their family
 * when the prefix tells it, and get no osinfo id rather than a wrong one.
 */

const WINDOWS: Record<string, string> = {
  "win31": "win3.1",
  "win95": "win95",
  "win98": "win98",
  "winme": "winme",
  "winnt": "winnt4.0",
  "win2000pro": "win2k",
  "win2000serv": "win2k",
  "win2000advserv": "win2k",
  "winxphome": "winxp",
  "winxppro": "winxp",
  "winnetweb": "win2k3",
  "winnetstandard": "win2k3",
  "winnetenterprise": "win2k3",
  "winnetdatacenter": "win2k3",
  "winnetbusiness": "win2k3",
  "winvista": "winvista",
  "longhorn": "win2k8",
  "winserver2008enterprise": "win2k8",
  "windows7": "win7",
  "windows7srv": "win2k8r2",
  "windows8": "win8",
  "windows8srv": "win2k12",
  "windows9": "win10",
  "windows9srv": "win2k16",
  "windows2019srv": "win2k19",
  "windows2019srvnext": "win2k22",
  "windows2022srvnext": "win2k25",
  "windows11": "win11",
  "windows12": "win11",
};

const LINUX_PREFIXES = [
  "rhel", "centos", "debian", "ubuntu", "sles", "suse", "opensuse", "oraclelinux", "oracle", "fedora",
  "almalinux", "rockylinux", "asianux", "mandrake", "mandriva", "redhat", "turbolinux", "nld", "coreos",
  "amazonlinux", "vmware-photon", "photon", "otherlinux", "other24xlinux", "other26xlinux", "other3xlinux",
  "other4xlinux", "other5xlinux", "other6xlinux", "miraclelinux", "pardus", "prolinux", "kylinlinux",
  "fusionos", "crxpod", "crxsys",
];

const OTHER_PREFIXES = ["freebsd", "solaris", "darwin", "netware", "os2", "dos", "openserver", "unixware", "ecomstation", "vmkernel", "other"];

function osinfoLinux(base: string): string | null {
  let m: RegExpExecArray | null;
  if ((m = /^rhel(\d+)$/.exec(base))) return `rhel${m[1]}.0`;
  if ((m = /^centos(\d+)$/.exec(base))) return Number(m[1]) >= 8 ? `centos-stream${m[1]}` : `centos${m[1]}.0`;
  if (base === "centos") return "centos-unknown";
  if ((m = /^debian(\d+)$/.exec(base))) return `debian${m[1]}`;
  if ((m = /^sles(\d+)$/.exec(base))) return `sles${m[1]}`;
  if ((m = /^oraclelinux(\d+)$/.exec(base))) return `ol${m[1]}.0`;
  if ((m = /^almalinux(\d*)$/.exec(base))) return m[1] ? `almalinux${m[1]}` : "almalinux-unknown";
  if ((m = /^rockylinux(\d*)$/.exec(base))) return m[1] ? `rocky${m[1]}` : "rocky-unknown";
  if (base === "ubuntu") return "ubuntu-unknown";
  if (base === "fedora") return "fedora-unknown";
  if (base === "opensuse") return "opensuse-unknown";
  return null;
}

export function guestOsFromId(raw: string | null): GuestOs {
  if (!raw || raw.trim() === "") return { id: raw, family: "unknown", osinfo: null, arch: null };
  const id = raw.trim().toLowerCase();
  const is64 = /-64$/.test(id);
  const base = id.replace(/-64$/, "");
  const arch = is64 ? "x86_64" : "i686";
  const win = WINDOWS[base];
  if (win) return { id: raw, family: "windows", osinfo: win, arch };
  if (base.startsWith("win") || base.startsWith("windows")) return { id: raw, family: "windows", osinfo: null, arch };
  if (LINUX_PREFIXES.some((p) => base.startsWith(p))) {
    return { id: raw, family: "linux", osinfo: osinfoLinux(base), arch };
  }
  if (OTHER_PREFIXES.some((p) => base.startsWith(p))) {
    const m = /^freebsd(\d+)$/.exec(base);
    return { id: raw, family: "other", osinfo: m ? `freebsd${m[1]}.0` : null, arch };
  }
  return { id: raw, family: "unknown", osinfo: null, arch: null };
}

const WINDOWS_NAMES: Record<string, string> = {
  "win3.1": "Windows 3.1", win95: "Windows 95", win98: "Windows 98", winme: "Windows ME", "winnt4.0": "Windows NT 4.0", win2k: "Windows 2000",
  winxp: "Windows XP", win2k3: "Windows Server 2003", winvista: "Windows Vista", win2k8: "Windows Server 2008", win7: "Windows 7",
  win2k8r2: "Windows Server 2008 R2", win8: "Windows 8", win2k12: "Windows Server 2012", win10: "Windows 10", win2k16: "Windows Server 2016",
  win2k19: "Windows Server 2019", win2k22: "Windows Server 2022", win2k25: "Windows Server 2025", win11: "Windows 11",
};

/** What the VMX says the guest is, for people: "Windows 10, 64-bit"; null when it does not name a Windows version. */
export function windowsVersionName(os: GuestOs): string | null {
  if (os.family !== "windows" || !os.osinfo) return null;
  const name = WINDOWS_NAMES[os.osinfo];
  return name ? `${name}${os.arch ? `, ${os.arch === "x86_64" ? "64-bit" : "32-bit"}` : ""}` : null;
}
