import type { ConversionNic } from "../plan";
import type { StaticInterface } from "./windows-facts";

/**
 * The first-boot work a Windows guest does itself on KVM, as virt-v2v's
 * firstboot scripts do: install the staged virtio drivers with pnputil,
 * uninstall VMware Tools, put static IPv4 settings back on the NIC with the
 * same MAC, install the QEMU guest agent. A boot-start service
 * (FerryFirstboot, cmd.exe running the script) runs it once as SYSTEM and
 * deletes itself. Everything that reaches the script from the guest's
 * registry is checked against a strict pattern first. Pure: text out.
 */

export const FIRSTBOOT_SERVICE = "FerryFirstboot";
/** Below the guest's system root (`C:\Windows\Ferry`). */
export const FIRSTBOOT_DIR = "Ferry";
export const VIRTIO_DIR = "Drivers\\VirtIO";

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const MSI_REMOVE = /^msiexec(\.exe)?\s+\/x\s*(\{[0-9A-Fa-f-]{36}\})\s*$/i;

export interface StaticAssignment {
  mac: string;
  nic: string;
  settings: StaticInterface;
}

/**
 * Which NIC gets which static settings: only when the pairing is certain
 * (one NIC with a MAC, one statically configured interface). Otherwise the
 * settings are reported, not guessed onto the wrong NIC.
 */
export function pairStaticInterfaces(nics: ConversionNic[], statics: StaticInterface[]): { assigned: StaticAssignment[]; unpaired: StaticInterface[] } {
  const withMac = nics.filter((n) => n.mac);
  if (statics.length === 1 && withMac.length === 1 && nics.length === 1) return { assigned: [{ mac: withMac[0]!.mac!, nic: withMac[0]!.sourceId, settings: statics[0]! }], unpaired: [] };
  return { assigned: [], unpaired: statics };
}

/** `msiexec /x {GUID} /qn /norestart` for an uninstall string that is exactly an MSI removal; null otherwise. */
export function msiRemoval(uninstall: string): string | null {
  const m = MSI_REMOVE.exec(uninstall.trim());
  return m ? `msiexec /x ${m[2]} /qn /norestart` : null;
}

/** The PowerShell that puts static IPv4 settings back on the adapter with each MAC (waiting for its driver). */
export function networkScript(assigned: StaticAssignment[]): string | null {
  const blocks: string[] = [];
  for (const a of assigned) {
    const addrs = a.settings.addresses.map((x) => x.split("/")).filter(([ip, p]) => IPV4.test(ip ?? "") && /^\d{1,2}$/.test(p ?? "") && Number(p) <= 32);
    if (!addrs.length) continue;
    const gw = a.settings.gateways.filter((g) => IPV4.test(g))[0];
    const dns = a.settings.dns.filter((d) => IPV4.test(d));
    const mac = a.mac.toUpperCase().replace(/:/g, "-");
    if (!/^([0-9A-F]{2}-){5}[0-9A-F]{2}$/.test(mac)) continue;
    blocks.push(
      [
        `# ${a.nic} (${mac}): the settings it had on VMware`,
        `$adapter = $null`,
        `$deadline = (Get-Date).AddMinutes(5)`,
        `while (-not $adapter -and (Get-Date) -lt $deadline) {`,
        `  $adapter = Get-NetAdapter -Physical | Where-Object { $_.MacAddress -eq '${mac}' }`,
        `  if (-not $adapter) { Start-Sleep -Seconds 5 }`,
        `}`,
        `if ($adapter) {`,
        `  Set-NetIPInterface -InterfaceIndex $adapter.ifIndex -AddressFamily IPv4 -Dhcp Disabled`,
        ...addrs.map(([ip, p], i) => `  New-NetIPAddress -InterfaceIndex $adapter.ifIndex -AddressFamily IPv4 -IPAddress '${ip}' -PrefixLength ${p}${i === 0 && gw ? ` -DefaultGateway '${gw}'` : ""}`),
        ...(dns.length ? [`  Set-DnsClientServerAddress -InterfaceIndex $adapter.ifIndex -ServerAddresses ${dns.map((d) => `'${d}'`).join(",")}`] : []),
        `} else {`,
        `  Write-Output "no adapter with MAC ${mac} after 5 minutes: its static settings were not restored"`,
        `}`,
      ].join("\r\n"),
    );
  }
  return blocks.length ? `# Written by Ferry: static IPv4 settings from VMware, restored by MAC.\r\n$ErrorActionPreference = 'Continue'\r\n${blocks.join("\r\n\r\n")}\r\n` : null;
}

export interface FirstbootPlan {
  /** Windows 10 / Server 2016 and later have `pnputil /add-driver`; older ones `pnputil -i -a`. */
  modernPnputil: boolean;
  stagedDrivers: boolean;
  toolsRemovals: string[];
  network: boolean;
  guestAgent: string | null;
}

/** The batch file the FerryFirstboot service runs once, logging next to itself. */
export function firstbootScript(p: FirstbootPlan): string {
  const lines = [
    "@echo off",
    "rem Written by Ferry: the guest's first boot on KVM. It runs once, as SYSTEM, then removes its service.",
    "setlocal",
    `set here=%SystemRoot%\\${FIRSTBOOT_DIR}`,
    "set log=%here%\\firstboot.log",
    "echo %DATE% %TIME% Ferry first boot >> \"%log%\"",
  ];
  if (p.stagedDrivers) {
    lines.push("echo installing the virtio drivers >> \"%log%\"");
    lines.push(p.modernPnputil ? `pnputil /add-driver "%SystemRoot%\\${VIRTIO_DIR}\\*.inf" /install >> "%log%" 2>&1` : `pnputil -i -a "%SystemRoot%\\${VIRTIO_DIR}\\*.inf" >> "%log%" 2>&1`);
  }
  for (const cmd of p.toolsRemovals) {
    lines.push("echo removing VMware Tools >> \"%log%\"");
    lines.push(`${cmd} >> "%log%" 2>&1`);
    lines.push("rem 3010: removed, a restart finishes it");
  }
  if (p.network) {
    lines.push("echo restoring static IPv4 settings >> \"%log%\"");
    lines.push(`powershell -NoProfile -ExecutionPolicy Bypass -File "%here%\\network.ps1" >> "%log%" 2>&1`);
  }
  if (p.guestAgent) {
    lines.push("echo installing the QEMU guest agent >> \"%log%\"");
    lines.push(`msiexec /i "%here%\\${p.guestAgent}" /qn /norestart >> "%log%" 2>&1`);
  }
  lines.push(`sc delete ${FIRSTBOOT_SERVICE} >> "%log%" 2>&1`);
  lines.push("echo %DATE% %TIME% done >> \"%log%\"");
  lines.push("endlocal");
  return lines.join("\r\n") + "\r\n";
}
