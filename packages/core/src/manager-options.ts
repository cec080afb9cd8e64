import type { Connection, ConnectionFactory } from "./connection.js";
import type { HealthScorer } from "./health.js";
import type { Logger } from "./logger.js";
import type { SettingsChange } from "./settings.js";
import type { Strategy } from "./strategy.js";

/** What a `ConnectionManager` is built from: its connections' factory, its settings and its services. */
export interface ConnectionManagerOptions<C extends Connection = Connection> extends SettingsChange {
  readonly connectionFactory: ConnectionFactory<C>;
  /**
   * Picks the connection for `dispatch`; default round-robin. An object with a `select` function:
   * anything else (a name such as `"random"`) throws `INVALID_CONFIG`; the balancer package's
   * `StrategyRegistry.create(name)` makes one by name.
   */
  readonly strategy?: Strategy;
  /** Scores connections and ejects outliers; without one, every connected link scores 100. */
  readonly healthScorer?: HealthScorer;
  readonly logger?: Logger;
  /** Clock; default Date.now. */
  readonly now?: () => number;
  /** Uniform random in [0, 1) for jitter and strategies; default Math.random. */
  readonly random?: () => number;
}
