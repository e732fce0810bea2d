# shellcheck shell=bash
# What the three-NIC guests (multi-nic, rhel-like, uefi) share: the NICs as
# ESXi lays them out, nftables rules naming them, ferry-nic-report.service,
# and the VMX. Sourced by each of their recipes.
#   ethernet0  vmxnet3  pciSlotNumber 192  ens192  static 192.168.50.10/24, gw + DNS 192.168.50.1
#   ethernet1  e1000e   pciSlotNumber 224  ens224  DHCP
#   ethernet2  vmxnet3  pciSlotNumber 256  ens256  static 10.20.30.40/24
# Every network configuration lists ens256 first, so that pairing NICs with
# configurations by order of mention is wrong.

# Hostname, hosts, root password (ferry), grub defaults: as the Debian guests.
guest_basics() { # $1 hostname, $2 extra kernel arguments (before the console ones)
  echo "$1" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$1" >"$root/etc/hosts"
  echo 'root:ferry' | chroot "$root" chpasswd
  cat >"$root/etc/default/grub" <<EOG
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=\`lsb_release -i -s 2> /dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="${2:+$2 }console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOG
}

# One line per expected NIC on the serial console, before the login prompt:
#   ferry-nic: ens192 mac=00:0c:29:.. addr=192.168.50.10/24   (addr=none without IPv4)
#   ferry-nic: ens224 absent                                  (no such interface)
nic_report() {
  cat >"$root/usr/local/sbin/ferry-nic-report" <<'EOS'
#!/bin/sh
# Ferry test guest: waits up to 60 s for the network (ens192 192.168.50.10,
# ens256 10.20.30.40, ens224 any IPv4), then prints what each NIC has on ttyS0.
addrs() { ip -4 -o addr show dev "$1" 2>/dev/null | awk '{print $4}'; }
has() { # $1 interface, $2 address or "any"
  a=$(addrs "$1")
  [ -n "$a" ] || return 1
  [ "$2" = any ] || printf '%s\n' "$a" | grep -qx "$2/[0-9]*"
}
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt 60 ]; do
  has ens192 192.168.50.10 && has ens256 10.20.30.40 && has ens224 any && break
  sleep 2
done
for n in ens192 ens224 ens256; do
  if [ -e "/sys/class/net/$n" ]; then
    a=$(addrs "$n" | head -1)
    echo "ferry-nic: $n mac=$(cat "/sys/class/net/$n/address") addr=${a:-none}"
  else
    echo "ferry-nic: $n absent"
  fi
done >/dev/ttyS0
echo "ferry-nic-report: waited $(($(date +%s) - start)) s"
EOS
  chmod 755 "$root/usr/local/sbin/ferry-nic-report"
  cat >"$root/etc/systemd/system/ferry-nic-report.service" <<'EOS'
[Unit]
Description=Ferry test guest: each NIC's MAC and IPv4 on the serial console
After=network.target
Before=serial-getty@ttyS0.service getty.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ferry-nic-report
TimeoutStartSec=120

[Install]
WantedBy=multi-user.target
EOS
  chroot "$root" systemctl enable ferry-nic-report.service >/dev/null 2>&1
}

# An nftables ruleset naming the interfaces, enabled (the nftables package must be installed).
nft_rules() {
  cat >"$root/etc/nftables.conf" <<'EOS'
#!/usr/sbin/nft -f

flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		iifname "ens256" ip saddr 10.20.30.0/24 accept comment "backup network"
		iifname "ens192" tcp dport 22 accept comment "ssh"
		iifname "ens192" icmp type echo-request accept
		iifname "ens224" udp dport 68 accept comment "dhcp"
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "ens256" ip daddr != 10.20.30.0/24 drop
	}
}
EOS
  chroot "$root" systemctl enable nftables.service >/dev/null 2>&1
}

# The VMX as ESXi writes it for a guest with three NICs. MACs: 00:0c:29 and
# the last three bytes of uuid.bios, plus generatedAddressOffset (0, 10, 20), as ESXi does.
write_vmx3() { # $1 folder, $2 name, $3 guestOS, $4 vmdk, $5 mac bytes 4-5 ("4b:1e"), $6 mac byte 6 (hex, e.g. c0), rest: extra lines
  local dir=$1 name=$2 os=$3 vmdk=$4 mac=$5 last=$6
  shift 6
  local m0 m1 m2
  m0=$(printf '%02x' $((0x$last))) m1=$(printf '%02x' $((0x$last + 10))) m2=$(printf '%02x' $((0x$last + 20)))
  {
    cat <<EOV
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "$name"
guestOS = "$os"
memSize = "1024"
numvcpus = "2"
cpuid.coresPerSocket = "1"
EOV
    printf '%s\n' "$@"
    cat <<EOV
pciBridge0.present = "TRUE"
pciBridge4.present = "TRUE"
pciBridge4.virtualDev = "pcieRootPort"
pciBridge4.functions = "8"
pciBridge5.present = "TRUE"
pciBridge5.virtualDev = "pcieRootPort"
pciBridge5.functions = "8"
pciBridge6.present = "TRUE"
pciBridge6.virtualDev = "pcieRootPort"
pciBridge6.functions = "8"
pciBridge7.present = "TRUE"
pciBridge7.virtualDev = "pcieRootPort"
pciBridge7.functions = "8"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0.pciSlotNumber = "160"
scsi0:0.present = "TRUE"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "$vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:$mac:$m0"
ethernet0.generatedAddressOffset = "0"
ethernet0.pciSlotNumber = "192"
ethernet1.present = "TRUE"
ethernet1.virtualDev = "e1000e"
ethernet1.networkName = "DHCP Network"
ethernet1.addressType = "generated"
ethernet1.generatedAddress = "00:0c:29:$mac:$m1"
ethernet1.generatedAddressOffset = "10"
ethernet1.pciSlotNumber = "224"
ethernet2.present = "TRUE"
ethernet2.virtualDev = "vmxnet3"
ethernet2.networkName = "Backup Network"
ethernet2.addressType = "generated"
ethernet2.generatedAddress = "00:0c:29:$mac:$m2"
ethernet2.generatedAddressOffset = "20"
ethernet2.pciSlotNumber = "256"
tools.syncTime = "FALSE"
uuid.bios = "56 4d 3a 7e 91 c2 0b 5d-8f 64 2e 19 a0 ${mac/:/ } $last"
EOV
  } >"$dir/$name.vmx"
}
