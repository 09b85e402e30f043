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

/** Virtual nodes per unit of weight on the hash ring (Clusterluck used 3; 2,048 keeps ten equal members within ~1.09 max/min). */
export const ringVnodesPerWeightDefault = 2048;

/**
 * Most points the hash ring keeps between builds, twice over: members' sorted points (8 B each,
 * 512 KiB: 32 members at weight 1 with the default 2,048 per weight) and whole rings' points
 * with their owners (12 B each, 768 KiB: six rings of five such members). A view change
 * rebuilds the ring of mostly the same members, often of members seen before: their points are
 * looked up instead of hashed and merged again.
 */
export const ringCachedPointsMax = 64 * 1024;

/** Largest member weight on the hash ring. */
export const ringWeightMax = 64;

/** Longest delay the kernel waits between reconnect attempts. */
export const reconnectDelayMsMax = 30_000;

/** First delay before a reconnect attempt; doubles per failure, with jitter. */
export const reconnectDelayMsMin = 50;

/** How long a dial may take before it is abandoned. */
export const dialTimeoutMsDefault = 10_000;

/** Largest `vnodesPerWeight` a hash ring accepts. */
export const ringVnodesPerWeightMax = 4096;

/**
 * Most points (virtual nodes) one hash ring holds: 4,096 members at weight 1 with the default
 * 2,048 per weight, about 100 MB of positions and owners.
 */
export const ringPointsMax = 8 * 1024 * 1024;

/** Most entries one vector clock holds (also the bound `VectorClock.parse` enforces). */
export const vectorClockEntriesMax = 8192;

/** `VectorClock.trim`: entries always kept (Riak's `small_vclock`, Clusterluck's `lowerBound`). */
export const vectorClockLowerBoundDefault = 10;

/** `VectorClock.trim`: entries kept at most, unless younger than the young bound (Riak's `big_vclock`). */
export const vectorClockUpperBoundDefault = 50;

/** `VectorClock.trim`: an entry updated less than this long ago is never dropped (Riak's `young_vclock`). */
export const vectorClockYoungBoundMsDefault = 20_000;

/** `VectorClock.trim`: an entry not updated for longer than this is dropped above the lower bound (Riak's `old_vclock`). */
export const vectorClockOldBoundMsDefault = 86_400_000;

/** Longest semaphore id, in UTF-16 code units. */
export const semaphoreIdLengthMax = 1024;

/** Longest holder id, in UTF-16 code units. */
export const holderLengthMax = 1024;

/** Largest concurrency limit `n` of a semaphore. */
export const semaphoreLimitMax = 1_000_000;

/** Longest lease a post may ask for: 30 days (leases of any length are timed exactly). */
export const leaseMsMax = 30 * 24 * 3600 * 1000;

/** Semaphores one DSMServer owns at most; a create beyond it fails QUEUE_FULL. */
export const semaphoresMax = 10_000_000;

/** Times a request is re-routed after a NOT_OWNER answer (rings converging). */
export const notOwnerRetriesMax = 3;

// ---- gossip membership (lib/core/membership.ts, lib/gossip/) ----

/**
 * Most entries of a membership table, tombstones included; new ids beyond it are not taken from
 * gossip. At ~80 bytes an entry on the wire, a full table stays well under `frameBytesMaxDefault`.
 */
export const membersMax = 4096;

/** Most tombstones (left or removed members) a membership table keeps; the oldest go first. */
export const tombstonesMax = 1024;

/**
 * How long a tombstone is kept before it is forgotten (Serf's 24 h reconnect/tombstone timeout).
 * A failure-removed member is re-tried for healing for this long.
 */
export const tombstoneTtlMsDefault = 86_400_000;

/** Time between gossip rounds (Clusterluck's default). */
export const gossipIntervalMsDefault = 1000;

/** Peers each gossip round contacts (Serf's and memberlist's default). */
export const gossipFanoutDefault = 3;

/** Time between failure-detector probes (memberlist's LAN default). */
export const probeIntervalMsDefault = 1000;

/** How long a direct probe waits for its ack (memberlist's LAN default). */
export const probeTimeoutMsDefault = 500;

/** Members asked to probe on our behalf when a direct probe fails (SWIM's k; memberlist's 3). */
export const indirectProbesDefault = 3;

/** Suspicion timeout multiplier: suspicionMult × max(1, log10(N + 1)) × probe interval (memberlist's 4). */
export const suspicionMultDefault = 4;

/** Time between attempts to gossip with one down or failure-removed member, so partitions heal. */
export const healIntervalMsDefault = 10_000;

/** Longest ring id, in UTF-16 code units. */
export const ringIdLengthMax = 256;

// ---- in-cluster signalling (lib/cluster/cluster-signaller.ts) ----

/** How long one signalling hop through the cluster (to a relay and on to the destination) may take. */
export const signalRelayTimeoutMsDefault = 3000;

/**
 * Signalling addresses whose route a cluster signaller remembers (which node an answer goes to,
 * or that it came through the fallback); the least recently used is forgotten beyond it.
 */
export const signalRoutesMax = 1024;

/**
 * How long a WebRTC member (`createWebRtcNode`, `createBrowserNode`) stays down before it is
 * removed from the ring: a closed or crashed tab never comes back under its old claim.
 */
export const webrtcAutoRemoveAfterMsDefault = 10_000;

// ---- storage and tables (lib/table/, lib/platform/*-storage) ----

/**
 * Longest storage key, in characters. File systems allow 255 bytes a name; the margin leaves
 * room for the file storage's temporary suffix.
 */
export const storageKeyLengthMax = 200;

/** Largest DTable log record (the JSON of one change); a `set` beyond it is INVALID_ARGUMENT. */
export const tableRecordBytesMax = 16 * 1024 * 1024;

/** Files the file storage keeps open for appending; beyond it the least recently used is closed. */
export const fsAppendHandlesMax = 16;

/** A member down this long is proposed for removal from the view (Node and browser members alike). */
export const autoRemoveAfterMsDefault = 10_000;

/** How long a member's confirmation "still on this view" keeps another serving as owner (the ownership lease). */
export const ownershipLeaseMsDefault = 2000;

/** ρ, the bound on how far any clock's rate may stray from real time (1 %). */
export const driftMaxDefault = 0.01;

/** How long one Paxos phase of a view change waits for answers before backing off. */
export const viewChangeTimeoutMsDefault = 1000;

/**
 * The longest lease a DSMServer grants by default (a post with a longer timeout is
 * INVALID_ARGUMENT; long holders refresh). It sets the lock-delay a new owner without a handoff
 * waits: (leaseMsMax + ownershipLeaseMs)·(1+ρ)².
 */
export const leaseMsMaxDefault = 60_000;

/** Most requests for one semaphore that may wait at its owner for ownership to settle (beyond: QUEUE_FULL). */
export const ownershipWaitingMax = 1024;
