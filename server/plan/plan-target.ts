import { FerryError } from "../errors";
import type { InspectedVm } from "../input/inspect-guest";
import { guestNicName, pciLayout, vmwareNicName } from "./pci-layout";
import { PlanOptions, TargetPlan, type Change, type ConversionNic, type PlannedNic } from "./target-plan";

/**
 * planTarget: the KVM guest Ferry will write, decided once, each decision
 * with its reason. Pure: no I/O; the CLI and the wizard call it with the
 * same inspected guest and options and get the same plan.
 */

/** `sda`, ..., `sdz`, `sdaa`: the kernel's naming. */
export function devName(prefix: "sd" | "vd" | "hd", index: number): string {
  let n = index;
  let s = "";
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return prefix + s;
}

/**
 * The source disk names Linux used on VMware, in the order the disks
 * appear (SCSI and SATA: sda, sdb...; IDE: hda... with old kernels, sdX with
 * libata), each mapped to the target's name for the same disk.
 */
export function deviceMap(sources: Array<{ bus: string; targetDev: string | null }>): Map<string, string> {
  const map = new Map<string, string>();
  let sd = 0;
  let hd = 0;
  for (const s of sources) {
    const sdName = devName("sd", sd++);
    const hdName = s.bus === "ide" ? devName("hd", hd++) : null;
    if (!s.targetDev) continue;
    map.set(sdName, s.targetDev);
    if (hdName) map.set(hdName, s.targetDev);
  }
  return map;
}

const NAME_OK = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/;

/** A name libvirt and every file system accept, made from the VMware display name. */
export function suggestName(displayName: string): string {
  const s = displayName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9._+-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/-+$/, "")
    .slice(0, 63);
  return s || "guest";
}

const MAC_MAP = /^((?:[0-9a-f]{2}:){5}[0-9a-f]{2}):(network|bridge):(.+)$/i;

function nicNetwork(sourceNetwork: string | null, mac: string | null, o: ReturnType<typeof PlanOptions.parse>): PlannedNic["network"] {
  for (const m of o.macs) {
    const p = MAC_MAP.exec(m)!;
    if (mac && p[1]!.toLowerCase() === mac) return { type: p[2]!.toLowerCase() as "network" | "bridge", name: p[3]! };
  }
  const mapped = (list: string[], type: "network" | "bridge") => {
    for (const entry of list) {
      const i = entry.indexOf(":");
      if (i > 0 && sourceNetwork !== null && entry.slice(0, i) === sourceNetwork) return { type, name: entry.slice(i + 1) };
    }
    return null;
  };
  const byName = mapped(o.networks, "network") ?? mapped(o.bridges, "bridge");
  if (byName) return byName;
  const fallback = o.bridges.find((b) => !b.includes(":"));
  if (fallback) return { type: "bridge", name: fallback };
  const net = o.networks.find((n) => !n.includes(":"));
  if (net) return { type: "network", name: net };
  return { type: "network", name: sourceNetwork ?? "default" };
}

/**
 * What happens to a NIC's name inside the guest. The guest keeps the name it
 * had on VMware, pinned to the NIC's MAC (a systemd .link file), so its
 * configuration, firewall rules and scripts keep working; only a guest that
 * cannot pin names gets its configuration renamed to the KVM name.
 */
function nicIdentityChange(n: ConversionNic): Change {
  const subject = `${n.sourceId} in the guest`;
  if (n.mac && n.vmwareName) return { subject, from: n.vmwareName, to: `${n.vmwareName}, pinned to ${n.mac}`, reason: `on KVM the NIC would be ${n.kvmName}; the conversion pins the guest's interface (found by the MAC in its network configuration, else by ESXi's PCI slot name) to the MAC, so addresses, firewall rules and scripts that name it keep working` };
  if (n.mac) return { subject, from: "its interface name on VMware", to: `the same name, pinned to ${n.mac}`, reason: `the VMX gives no PCI slot; the conversion finds the interface by the MAC in the guest's network configuration and pins it; a guest that names no MAC gets ${n.kvmName}` };
  return { subject, from: n.vmwareName ?? "its interface name on VMware", to: n.kvmName, reason: "the NIC has no MAC to pin a name to: the conversion renames the guest's network configuration to the name systemd gives it on KVM" };
}

/** Whether virtio-win has a boot driver for this Windows (by the VMX's guestOS), and why not. */
function windowsDrivers(os: InspectedVm["guestOS"], virtioWin: ReturnType<typeof PlanOptions.parse>["virtioWin"]): { ok: boolean; reason: string } {
  if (!virtioWin) return { ok: false, reason: "no virtio-win drivers were given (--virtio-win, or the virtio-win setting)" };
  const arch = os.arch === "i686" ? "i386" : (os.arch ?? "x86_64");
  if (!os.osinfo) return { ok: false, reason: `the VMX's guestOS "${os.id ?? ""}" names no Windows version to pick virtio-win drivers for` };
  if (!virtioWin.supports.includes(`${os.osinfo}/${arch}`)) return { ok: false, reason: `${virtioWin.path} has no viostor or vioscsi for ${os.osinfo} (${arch})` };
  return { ok: true, reason: "" };
}

export function planTarget(vm: InspectedVm, input: PlanOptions): TargetPlan {
  const o = PlanOptions.parse(input);
  for (const m of o.macs) {
    if (!MAC_MAP.test(m)) {
      throw new FerryError({ code: "plan.mac", message: `--mac ${m} is not MAC:network:NAME or MAC:bridge:NAME`, file: null, hint: "for example --mac 00:50:56:aa:bb:cc:bridge:br0" });
    }
  }
  if (o.output === "libvirt" && !o.libvirt) {
    throw new FerryError({ code: "plan.libvirt", message: "-o libvirt needs the target host's facts (its pool and capabilities), which were not read", file: null, hint: "give -o libvirt with -os POOL (and -oc URI); the CLI and the server read them from libvirt before planning" });
  }
  if (o.start && o.output !== "libvirt") {
    throw new FerryError({ code: "plan.start", message: `--start needs -o libvirt (this is -o ${o.output}): only libvirt can start the guest`, file: null, hint: "use -o libvirt -os POOL, or start the guest yourself from what -o local writes" });
  }
  const changes: Change[] = [];
  let name = o.name ?? suggestName(vm.name);
  if (o.name !== undefined && !NAME_OK.test(o.name)) {
    throw new FerryError({ code: "plan.name", message: `"${o.name}" is not a valid guest name`, file: null, hint: `use letters, digits, '.', '_', '+' and '-' (at most 63), for example "${suggestName(o.name)}"` });
  }
  if (o.name === undefined && name !== vm.name) {
    changes.push({ subject: "name", from: vm.name, to: name, reason: "libvirt names and output file names take letters, digits, '.', '_', '+' and '-' only" });
  }
  name = name.slice(0, 63);

  // A converted guest gets virtio (the conversion makes sure its initramfs
  // carries the drivers, or installs virtio-win's on Windows). Without
  // conversion, or a Windows guest without virtio-win drivers for it, the
  // guest gets devices every Linux and Windows since 2012 drives.
  const convert = !o.copyOnly;
  const windows = vm.guestOS.family === "windows";
  const drivers = windows && convert ? windowsDrivers(vm.guestOS, o.virtioWin) : null;
  const virtio = convert && (drivers === null || drivers.ok);
  const bus = virtio ? ("virtio" as const) : ("sata" as const);
  const why = !convert
    ? "copy-only: the guest is not converted, so it keeps its own drivers; SATA (AHCI) needs none from virtio"
    : drivers?.ok
      ? `virtio-blk is KVM's fastest disk; the conversion installs virtio-win's viostor from ${o.virtioWin!.path} as a boot-start driver`
      : drivers
        ? `${drivers.reason}: the guest runs on emulated devices (SATA disks, an e1000e NIC), slower than virtio; the conversion makes Windows' own AHCI driver (storahci) start at boot, as a guest installed on LSI or PVSCSI often has it disabled`
        : "virtio-blk is KVM's fastest disk; the conversion puts virtio_blk in the guest's initramfs and renames the disk in fstab and grub";
  if (drivers && !drivers.ok) changes.push({ subject: "devices", from: "VMware's paravirtual devices", to: "emulated SATA and e1000e", reason: why });
  for (const id of o.excludeDisks) {
    if (!vm.disks.some((d) => d.id === id)) throw new FerryError({ code: "plan.exclude", message: `there is no disk ${id} to leave out`, file: null, hint: `the guest's disks: ${vm.disks.map((d) => d.id).join(", ") || "none"}` });
    changes.push({ subject: `${id}`, from: "disk", to: "left out", reason: "excluded by the operator" });
  }
  const readable = vm.diskFacts.filter((r) => r.facts !== null && !o.excludeDisks.includes(r.id));
  const disks = readable.map((r, i) => {
    const source = vm.disks.find((d) => d.id === r.id)!;
    const controller = vm.controllers.find((c) => c.bus === source.bus && c.index === source.controller);
    const from = `${source.bus}${controller?.model ? ` (${controller.model})` : ""}`;
    const dev = devName(virtio ? "vd" : "sd", i);
    changes.push({ subject: `${r.id} bus`, from, to: `${bus} as ${dev}`, reason: why });
    return {
      sourceId: r.id,
      sourcePath: r.facts!.file,
      capacityBytes: r.facts!.capacityBytes,
      allocatedBytes: r.facts!.allocatedBytes,
      dev,
      bus,
      targetName: `${name}-${dev}`,
      sourceFiles: r.facts!.files.map((f) => f.path),
      source: r.facts!.source,
    };
  });
  const cdroms = vm.cdroms.map((c, i) => {
    const dev = devName("sd", (virtio ? 0 : disks.length) + i);
    changes.push({ subject: `${c.id} CD-ROM`, from: `${c.bus}${c.file ? ` with ${c.file}` : ""}`, to: `sata as ${dev}, empty`, reason: "media on the VMware host or NAS is not part of the guest; insert an ISO on KVM when needed" });
    return { sourceId: c.id, dev, bus: "sata" as const };
  });
  for (const f of vm.floppies) changes.push({ subject: `${f.id}`, from: "floppy drive", to: "none", reason: "q35 machines have no floppy controller" });

  const nics: PlannedNic[] = vm.nics.map((n) => {
    const network = nicNetwork(n.network, n.mac, o);
    const model = virtio ? ("virtio" as const) : ("e1000e" as const);
    const nicWhy = !virtio
      ? drivers
        ? "e1000e has a driver in every Windows since 8 (older ones: Intel's); virtio-net needs virtio-win's netkvm"
        : "e1000e has a driver in every current Linux and Windows; virtio-net needs guest conversion"
      : windows
        ? "virtio-net is KVM's fastest NIC; the first-boot script installs virtio-win's netkvm with pnputil and puts the guest's static IPv4 settings back on it, found by its MAC"
        : "virtio-net is KVM's fastest NIC; every Linux kernel with virtio drives it, and the conversion renames its configuration";
    if (n.model !== model) changes.push({ subject: `${n.id} model`, from: n.model ?? "VMware default", to: model, reason: nicWhy });
    changes.push({ subject: `${n.id} network`, from: n.network ?? "(none)", to: `${network.type} ${network.name}`, reason: o.macs.length || o.networks.length || o.bridges.length ? "mapped by --mac/--network/--bridge" : "the source network's name, as no mapping was given" });
    return { sourceId: n.id, mac: n.mac, model, network };
  });
  if (vm.firmware === "uefi") {
    changes.push({ subject: "firmware", from: "VMware EFI", to: `OVMF UEFI${vm.secureBoot ? " with Secure Boot (Microsoft's keys enrolled)" : ""}`, reason: vm.secureBoot ? "the guest boots with UEFI and Secure Boot on VMware; OVMF's Secure Boot build with Microsoft's keys boots the same signed shim, grub and kernel" : "the guest boots with UEFI; BIOS would not find its boot loader" });
    changes.push({
      subject: "UEFI boot entry",
      from: "VMware's NVRAM file",
      to: convert ? `${name}_VARS.fd with the guest's own entry, and \\EFI\\BOOT\\BOOTX64.EFI when missing` : `${name}_VARS.fd, fresh`,
      reason: convert
        ? "KVM's firmware cannot read VMware's NVRAM: the conversion finds the loader the guest's entry ran (shim or grub on the ESP), writes that entry into the guest's own OVMF variables, and installs the removable-media fallback so the guest also boots with fresh variables"
        : "copy-only: the ESP is not changed; a guest without \\EFI\\BOOT\\BOOTX64.EFI may stop in the firmware's shell",
    });
  }
  changes.push({ subject: "machine", from: `VMware virtual hardware${vm.hardwareVersion !== null ? ` ${vm.hardwareVersion}` : ""}`, to: "q35", reason: "the current QEMU machine type, with PCIe and AHCI" });
  if (o.libvirt) {
    const h = o.libvirt;
    changes.push({ subject: "libvirt domain", from: "VMware", to: `type ${h.domainType}, machine ${h.machine}, on ${h.uri}, disks in pool ${h.pool}`, reason: h.domainType === "kvm" ? "the host's capabilities offer KVM and this q35 machine version" : "the host's capabilities offer no KVM (no /dev/kvm for libvirt): the guest runs under QEMU's emulation (TCG), correct but many times slower" });
  }

  let conversion: TargetPlan["conversion"] = null;
  if (convert) {
    const layout = pciLayout({ nics, disks });
    const targetDev = new Map(disks.map((d) => [d.sourceId, d.dev]));
    const devices = windows ? {} : Object.fromEntries(deviceMap(vm.disks.map((d) => ({ bus: d.bus, targetDev: targetDev.get(d.id) ?? null }))));
    for (const [from, to] of Object.entries(devices)) if (from !== to) changes.push({ subject: `guest /dev/${from}`, from: `/dev/${from}`, to: `/dev/${to}`, reason: "the disk's name on virtio; the conversion rewrites it in /etc/fstab, /etc/crypttab and the grub command line (UUID= and LABEL= entries stay)" });
    const convNics = vm.nics.map((n, i) => ({ sourceId: n.id, mac: n.mac, vmwareName: n.pciSlot !== null ? vmwareNicName(n.pciSlot) : null, kvmName: guestNicName(layout.nicBus[i]!) }));
    if (!windows) for (const n of convNics) changes.push(nicIdentityChange(n));
    if (windows) changes.push({ subject: "VMware Tools", from: "installed", to: "disabled now, removed at first boot", reason: "VMware's services and drivers fail on KVM: the conversion disables them in the registry, and a first-boot script uninstalls VMware Tools" });
    conversion = { devices, nics: convNics, virtioWin: drivers?.ok ? o.virtioWin!.path : null };
  }
  // Windows is proven up by its NIC: a guest without one has nothing to prove it with.
  const bootCheck = o.bootCheck ?? (convert && !(windows && vm.nics.length === 0));
  if (windows && convert && vm.nics.length === 0 && o.bootCheck === undefined) changes.push({ subject: "boot check", from: "on", to: "off", reason: "a Windows guest is proven up by its NIC on the network, and this one has none" });
  const bootProof = windows ? ("network" as const) : ("serial-login" as const);
  if (windows && bootCheck) changes.push({ subject: "boot check", from: "a login prompt on the serial console", to: "a DHCP request or ARP announcement from the guest's MAC, with screenshots", reason: "Windows writes nothing to a serial console: the check passes when the guest's NIC comes up on the isolated network, and fails at a blue screen (such as INACCESSIBLE_BOOT_DEVICE) with its screenshot" });

  return TargetPlan.parse({
    name,
    vmxPath: vm.vmxPath,
    output: { mode: o.output, dir: o.outputDir, ...(o.libvirt ? { libvirt: o.libvirt } : {}), ...(o.start ? { start: true } : {}) },
    format: o.format,
    allocation: o.allocation,
    memoryMiB: vm.memoryMiB,
    vcpus: vm.vcpus,
    topology: vm.topology,
    firmware: vm.firmware,
    secureBoot: vm.secureBoot,
    machine: "q35",
    uuid: vm.uuid,
    osinfo: vm.guestOS.osinfo,
    disks,
    cdroms,
    nics,
    copyOnly: o.copyOnly,
    conversion,
    bootCheck,
    bootProof,
    parallel: o.parallel,
    overwrite: o.overwrite,
    rateLimit: o.rateLimit,
    changes,
    concerns: vm.concerns,
  });
}
