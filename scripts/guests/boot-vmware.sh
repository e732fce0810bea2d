#!/usr/bin/env bash
# Boots a built test guest by hand on VMware-shaped hardware under qemu, to
# prove the guest itself is good before any conversion: the VMX's pvscsi and
# NICs (vmxnet3, e1000e) each behind a PCIe root port whose slot number is the
# VMX's pciSlotNumber (so the guest names them ens160/ens192/ens224/ens256 as
# on ESXi; native PCIe hotplug, so Linux sees the slot numbers), BIOS or OVMF
# as the VMX says (UEFI: the disk on SATA, see below). The disk is opened
# with snapshot=on.
# Waits for a login prompt on the serial console; prints the console log path,
# the seconds it took and the ferry-nic lines.
#
#   scripts/guests/boot-vmware.sh GUEST.vmx [--disk FILE] [--vars FILE] [--secure-boot] [--timeout S] [--log FILE] [--nic-model M]
#
# --nic-model gives every NIC model M (e.g. e1000e) in the VMX's slots, so the
# guest still names them ens192/ens224/ens256: under TCG on a loaded host,
# vmxnet3's open can stall the guest for minutes (soft lockups while it
# allocates its receive rings), long enough for ferry-nic-report to time out.
#
# --disk boots another image in place of the VMX's disk (e.g. a copy with an
# \EFI\BOOT fallback added); --vars uses a given OVMF variable store (copied).
set -euo pipefail
vmx=$1
shift
disk="" vars="" sb=0 timeout=900 log="" nic_model=""
while [ $# -gt 0 ]; do
  case "$1" in
    --disk) disk=$2; shift 2 ;;
    --vars) vars=$2; shift 2 ;;
    --secure-boot) sb=1; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --nic-model) nic_model=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
val() { sed -n "s/^$1 = \"\(.*\)\"\$/\1/p" "$vmx" | head -1; }
dir=$(dirname "$vmx")
[ -n "$disk" ] || disk="$dir/$(val 'scsi0:0.fileName')"
fmt=raw
case "$disk" in *.vmdk) fmt=vmdk ;; *.qcow2) fmt=qcow2 ;; esac
work=$(mktemp -d /tmp/ferry-boot-vmware-XXXXXX)
trap 'kill $qpid 2>/dev/null || true; rm -rf "$work"' EXIT
log=${log:-$work/console.log}
: >"$log"
machine="q35,accel=tcg"
args0=(-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off)
args=("${args0[@]}" -cpu max -m 1024 -smp 2 -nodefaults -display none -device VGA -no-reboot -serial "file:$log")
if [ "$(val firmware)" = efi ] || [ "$sb" = 1 ]; then
  code=/usr/share/OVMF/OVMF_CODE_4M.fd
  src=${vars:-/usr/share/OVMF/OVMF_VARS_4M.fd}
  if [ "$sb" = 1 ]; then
    code=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
    src=${vars:-/usr/share/OVMF/OVMF_VARS_4M.ms.fd}
    machine="q35,accel=tcg,smm=on"
    args+=(-global driver=cfi.pflash01,property=secure,value=on)
  fi
  cp "$src" "$work/vars.fd"
  args+=(-drive "if=pflash,format=raw,readonly=on,file=$code" -drive "if=pflash,format=raw,file=$work/vars.fd")
fi
chassis=0
port() { # $1 slot → a root port with that physical slot number
  chassis=$((chassis + 1))
  args+=(-device "pcie-root-port,id=rp$1,bus=pcie.0,chassis=$chassis,slot=$1,addr=0x$(printf %x $((chassis + 1)))")
}
args+=(-drive "file=$disk,format=$fmt,if=none,id=d0,snapshot=on,cache=unsafe")
if [ "$(val firmware)" = efi ] || [ "$sb" = 1 ]; then
  # Debian's OVMF has no PVSCSI driver (VMware's firmware has): the firmware
  # could not read the disk, so UEFI guests get it on q35's AHCI (SATA) port.
  echo "note: UEFI: the disk is on SATA, not pvscsi (Debian's OVMF cannot read pvscsi)" >&2
  args+=(-device "ide-hd,drive=d0,bus=ide.0,bootindex=1")
else
  port "$(val scsi0.pciSlotNumber)"
  args+=(-device "$(val scsi0.virtualDev),id=scsi0,bus=rp$(val scsi0.pciSlotNumber)" -device "scsi-hd,drive=d0,bus=scsi0.0,bootindex=1")
fi
for i in 0 1 2 3; do
  [ "$(val "ethernet$i.present")" = TRUE ] || continue
  slot=$(val "ethernet$i.pciSlotNumber")
  port "$slot"
  args+=(-netdev "user,id=n$i,restrict=on" -device "${nic_model:-$(val "ethernet$i.virtualDev")},netdev=n$i,mac=$(val "ethernet$i.generatedAddress"),bus=rp$slot")
done
echo "qemu-system-x86_64 -machine $machine ${args[*]}" >&2
start=$SECONDS
qemu-system-x86_64 -machine "$machine" "${args[@]}" &
qpid=$!
while kill -0 $qpid 2>/dev/null && [ $((SECONDS - start)) -lt "$timeout" ]; do
  if grep -aqE '^[^ ]+ login:' <(tr -d '\r' <"$log"); then
    echo "login prompt after $((SECONDS - start)) s: $(tr -d '\r' <"$log" | grep -aoE '^[^ ]+ login:' | head -1)"
    tr -d '\r' <"$log" | grep -a 'ferry-nic' || true
    [ -z "${KEEP_LOG:-}" ] || cp "$log" "$KEEP_LOG"
    exit 0
  fi
  sleep 2
done
echo "no login prompt after $((SECONDS - start)) s; last console lines:"
tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | grep -av '^\s*$' | tail -25
[ -z "${KEEP_LOG:-}" ] || cp "$log" "$KEEP_LOG"
exit 1
