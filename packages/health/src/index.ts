export {
  type CheckState,
  defaultHealthMonitorOptions,
  HealthMonitor,
  type HealthMonitorEventMap,
  type HealthMonitorOptions,
} from "./health-monitor.js";
export {
  defaultHealthScoreOptions,
  type EjectionListener,
  HealthScoreBoard,
  type HealthScoreOptions,
  healthScorer,
} from "./health-score-board.js";
