import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Random } from './random.js';
import type { Storage } from './storage.js';
import type { Transport } from './transport.js';

/**
 * Everything non-deterministic a component may touch. Only `lib/platform/` builds real ones;
 * the simulator builds virtual ones, and the same kernel, gossip and DSM code runs on both.
 */
export interface Env {
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport;
  readonly logger: Logger;
  /** Absent where nothing is persisted. */
  readonly storage?: Storage;
}
