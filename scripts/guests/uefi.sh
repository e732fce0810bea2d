# shellcheck shell=bash
# uefi: Debian 12 on UEFI as the Debian installer leaves it on VMware
# (sourced by scripts/build-guest.sh with $root, $work, $stage, $kver set).
# GPT: partition 1 the EFI system partition (FAT32, 100 MiB, made here with
# mkfs.vfat and mtools), partition 2 ext4 root. Debian's signed chain
# (shim-signed, grub-efi-amd64-signed) in \EFI\debian as grub-install puts
# it; the boot entry lives in NVRAM only, so there is NO \EFI\BOOT\BOOTX64.EFI
# fallback: with fresh firmware variables the guest does not boot.
# Network by netplan (renderer networkd, ens256 first), nftables, the NIC report.
# Two VMX files share the disk: uefi.vmx and uefi-sb.vmx (Secure Boot on).
# shellcheck source=nics.sh
. "$here/nics.sh"

name=uefi
uuid_root=9a4c6e8f-1b3d-4f5a-8c7e-6d5b4a3c2e1f
esp_serial=5A3C1D2E # the ESP's FAT volume id: UUID=5A3C-1D2E

say "packages: shim-signed grub-efi-amd64(-signed) netplan.io nftables (grub-pc, ifupdown out)"
# grub-install has no ESP and no EFI variables in this chroot: the packages'
# scripts must not run it (the ESP is written below, by hand).
chroot "$root" dpkg-divert --local --rename --add /usr/sbin/grub-install >/dev/null
ln -s /bin/true "$root/usr/sbin/grub-install"
chroot_apt "$root" install --no-install-recommends shim-signed grub-efi-amd64-signed grub-efi-amd64 efibootmgr netplan.io nftables dosfstools
chroot_apt "$root" purge grub-pc grub-pc-bin ifupdown isc-dhcp-client
rm -f "$root/usr/sbin/grub-install"
chroot "$root" dpkg-divert --local --rename --remove /usr/sbin/grub-install >/dev/null
rm -f "$root/etc/network/interfaces"
chroot_clean "$root"

guest_basics "$name"
mkdir -p "$root/etc/netplan"
cat >"$root/etc/netplan/01-netcfg.yaml" <<'EON'
# The backup network first, then the primary interface, then the lab's DHCP.
network:
  version: 2
  renderer: networkd
  ethernets:
    ens256:
      addresses: [10.20.30.40/24]
    ens192:
      addresses: [192.168.50.10/24]
      routes:
        - to: default
          via: 192.168.50.1
      nameservers:
        addresses: [192.168.50.1]
    ens224:
      dhcp4: true
EON
chmod 600 "$root/etc/netplan/01-netcfg.yaml"
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
nic_report
nft_rules

mkdir -p "$root/boot/efi" "$root/boot/grub/x86_64-efi"
cp "$root"/usr/lib/grub/x86_64-efi/*.mod "$root"/usr/lib/grub/x86_64-efi/*.lst "$root/boot/grub/x86_64-efi/"
cat >"$root/etc/fstab" <<EOS
# / was on /dev/sda2 during installation
UUID=$uuid_root /               ext4    errors=remount-ro 0       1
# /boot/efi was on /dev/sda1 during installation
UUID=${esp_serial:0:4}-${esp_serial:4:4}  /boot/efi       vfat    umask=0077      0       1
EOS
cat >"$root/boot/grub/grub.cfg" <<EOS
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set default=0
set timeout=1
menuentry 'Debian GNU/Linux' {
	insmod part_gpt
	insmod ext2
	search --no-floppy --fs-uuid --set=root $uuid_root
	linux /boot/vmlinuz-$kver root=UUID=$uuid_root ro console=tty0 console=ttyS0,115200n8
	initrd /boot/initrd.img-$kver
}
EOS

say "ESP"
esp="$work/esp.img"
mkfs.vfat -F 32 -i "$esp_serial" -C "$esp" $((100 * 1024)) >/dev/null
mmd -i "$esp" ::/EFI ::/EFI/debian
mcopy -i "$esp" "$root/usr/lib/shim/shimx64.efi.signed" ::/EFI/debian/shimx64.efi
mcopy -i "$esp" "$root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" ::/EFI/debian/grubx64.efi
mcopy -i "$esp" "$root/usr/lib/shim/mmx64.efi.signed" ::/EFI/debian/mmx64.efi
mcopy -i "$esp" "$root/usr/lib/shim/BOOTX64.CSV" ::/EFI/debian/BOOTX64.CSV
printf "search.fs_uuid %s root hd0,gpt2 \nset prefix=(\$root)'/boot/grub'\nconfigfile \$prefix/grub.cfg\n" "$uuid_root" >"$work/grub.cfg"
mcopy -i "$esp" "$work/grub.cfg" ::/EFI/debian/grub.cfg

say "disk"
raw="$work/sys.raw"
truncate -s 3072M "$raw"
sfdisk -q "$raw" <<'EOS'
label: gpt
label-id: 6B1D3F5A-2C4E-4A6B-8D9F-1E3C5A7B9D0F
start=2048, size=204800, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0E2C4A6B-8D1F-4E3A-9B5C-7D9F1A3C5E7B, name="EFI System Partition"
start=206848, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=3A5C7E9B-1D2F-4B4D-8F6A-0C2E4A6C8E0A
EOS
dd if="$esp" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$esp"
# root: from 206848 sectors to the end, minus GPT's backup (1 MiB is plenty)
mkfs.ext4 -q -F -E offset=$((206848 * 512)) -d "$root" -U "$uuid_root" -L root "$raw" $((3072 - 101 - 1))M
mkdir -p "$stage/$name"
to_vmdk "$raw" "$stage/$name/$name.vmdk" monolithicSparse
rm -f "$raw"
write_vmx3 "$stage/$name" "$name" debian12-64 "$name.vmdk" 7d:3e 20 'firmware = "efi"' 'nvram = "uefi.nvram"'
write_vmx3 "$stage/$name" uefi-sb debian12-64 "$name.vmdk" 7d:4f 30 'firmware = "efi"' 'nvram = "uefi-sb.nvram"' 'uefi.secureBoot.enabled = "TRUE"'
