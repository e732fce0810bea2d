/** Output modes behind one interface: -o local (libvirt XML), -o qemu (a script), -o json. */
export { openOutput, plannedOutputs, type Output } from "./output";
export { libvirtXml, xmlEscape } from "./libvirt-xml";
export { qemuScript } from "./qemu-script";
export { jsonMetadata } from "./json-output";
