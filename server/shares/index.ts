/** NAS shares: configuration, confined browsing, scanning for guests. */
export * from "./config";
export { resolveInShare, shareRoot, type SharePath } from "./paths";
export { browse, Listing, BrowseEntry } from "./browse";
export { scanShare, FoundVm, ScanItem, type ScanOptions } from "./scan";
export { openShareInput, withShareInput } from "./open";
