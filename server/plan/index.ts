export * from "./target-plan";
export { planTarget, devName, deviceMap, suggestName } from "./plan-target";
