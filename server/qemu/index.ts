/** qemu-img: the only code that spawns it. */
export * from "./qemu-img";
export { ProgressParser } from "./progress";
export { qemuImgSelfCheck, parseFormats, parseVersion, requireDrivers, type QemuImgCheck } from "./self-check";
