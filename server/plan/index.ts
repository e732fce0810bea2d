export * from "./target-plan";
export { planTarget, devName, suggestName } from "./plan-target";
