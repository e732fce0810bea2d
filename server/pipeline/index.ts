export { runPipeline, MIN_OVERLAY_FREE, targetMargin, type RunOptions } from "./run";
export { PipelineEvent, type ResultFile } from "./events";
export { ProgressTracker } from "./progress";
