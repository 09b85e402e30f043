// Every bound of the library, in one place, unit last. Reaching one is a typed error, never
// unbounded memory. Components take overrides through their options where it makes sense.

/** Longest node id or address, in UTF-16 code units. */
export const nodeIdLengthMax = 256;

/** Longest actor (GenServer) name and event name, in UTF-16 code units. */
export const actorNameLengthMax = 256;

/** Default largest kernel frame, on send (MESSAGE_TOO_LARGE) and on receive (dropped, counted). */
export const frameBytesMaxDefault = 1024 * 1024;

/** Frames kept per destination while its connection is down; the oldest is dropped beyond it (as Clusterluck). */
export const sendQueueLengthMaxDefault = 1024;

/** Calls awaiting a reply, per kernel; a call beyond it fails with QUEUE_FULL. */
export const pendingCallsMaxDefault = 65_536;

/** Messages a paused GenServer keeps; beyond it a call gets QUEUE_FULL. */
export const mailboxLengthMaxDefault = 4096;

/** Virtual nodes per unit of weight on the hash ring (Clusterluck used 3; see hash-ring.ts). */
export const ringVnodesPerWeightDefault = 1024;

/** Largest member weight on the hash ring. */
export const ringWeightMax = 64;

/** Longest delay the kernel waits between reconnect attempts. */
export const reconnectDelayMsMax = 30_000;

/** First delay before a reconnect attempt; doubles per failure, with jitter. */
export const reconnectDelayMsMin = 50;

/** How long a dial may take before it is abandoned. */
export const dialTimeoutMsDefault = 10_000;
