# shellcheck shell=bash
# multi-nic: the Debian guest's shape (BIOS, MBR, ext4 on /dev/sda1,
# initramfs-tools MODULES=most, pvscsi) with three NICs as ESXi lays them out
# (scripts/guests/nics.sh), configured by ifupdown in /etc/network/interfaces,
# ens256 first. Sourced by scripts/build-guest.sh with $root, $work, $stage, $kver set.
# shellcheck source=nics.sh
. "$here/nics.sh"

name=multi-nic
uuid_root=5b8e2c4a-7d1f-4a3b-9c6e-2f4a8b1d3e5c

say "packages: nftables"
chroot_apt "$root" install --no-install-recommends nftables
chroot_clean "$root"

guest_basics "$name"
cat >"$root/etc/network/interfaces" <<'EON'
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

# Backup network (vmxnet3, PCI slot 256)
allow-hotplug ens256
iface ens256 inet static
	address 10.20.30.40/24

# The primary network interface (vmxnet3, PCI slot 192)
allow-hotplug ens192
iface ens192 inet static
	address 192.168.50.10/24
	gateway 192.168.50.1
	dns-nameservers 192.168.50.1

# Lab network, DHCP (e1000e, PCI slot 224)
allow-hotplug ens224
iface ens224 inet dhcp
EON
nic_report
nft_rules

mkdir -p "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
printf '# / was on /dev/sda1 during installation\n/dev/sda1\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"
write_grub_cfg "UUID=$uuid_root"
say "disk"
make_disk "$work/sys.raw" 3072 "$root" "$uuid_root" root
install_grub "$work/sys.raw"
mkdir -p "$stage/$name"
to_vmdk "$work/sys.raw" "$stage/$name/$name.vmdk" monolithicSparse
rm -f "$work/sys.raw"
write_vmx3 "$stage/$name" "$name" debian12-64 "$name.vmdk" 5c:2a 10 'nvram = "multi-nic.nvram"'
