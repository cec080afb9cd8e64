/**
 * Helpers the sibling `@xiaozhi-connect/*` packages share. Outside semver: anything here may change
 * or go in any release. Build on the main entry point instead.
 * @packageDocumentation
 */
export { raceAbort } from "./abort.js";
export { connectionShapeChanged } from "./endpoint.js";
export { mergeSettings } from "./settings.js";
export { settleLogged } from "./settle-logged.js";
export { ToolSourceSwitch } from "./tool-source-switch.js";
