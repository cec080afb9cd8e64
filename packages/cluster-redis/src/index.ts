export { type ClusterClock, systemClock } from "./clock.js";
export { maskRedisUrl } from "./cluster-view.js";
export { RedisClusterCoordinator } from "./coordinator.js";
export { type CoordinatorOptions, defaultLeaseTtl, listSettle } from "./coordinator-options.js";
export { LeaseTable } from "./lease-table.js";
export { keptChanges } from "./list-changes.js";
export { type LeaseHolder, type LeaseIndex, type Plan, plan, type Snapshot } from "./planner.js";
export { defaultInstanceId, redisCluster } from "./redis-cluster.js";
export { type RedisStoresOptions, redisStores } from "./redis-stores.js";
export { type Assignment, type AssignOptions, assignEndpoints, preference } from "./rendezvous.js";
export {
  type BeatResult,
  type ClusterBus,
  type ClusterStores,
  type LeaseChange,
  type LeaseLogPosition,
  type LeaseStore,
  type ListIdentity,
  type ListStore,
  type LiveMember,
  type MemberInfo,
  type MembershipStore,
  type StatusChange,
  type StoredList,
  type StoredStatus,
  StoreError,
  type WriteResult,
} from "./stores.js";
