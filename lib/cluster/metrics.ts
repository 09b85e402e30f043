// A node's counters and gauges in one shape that maps onto OpenTelemetry's and Prometheus's data
// models without depending on either: a metric has a name, a type, a help text and samples with
// labels. `toPrometheus` renders the text exposition format (version 0.0.4).
import type { DSMServer } from '../dsm/dsm-server.js';
import type { GenServer } from '../kernel/gen-server.js';
import type { GossipRing } from '../gossip/gossip-ring.js';
import type { NetKernel } from '../kernel/net-kernel.js';

/** One value of a metric, with its labels. */
export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A counter (only grows while the process lives) or a gauge (a current value). */
export interface Metric {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly samples: readonly MetricSample[];
}

/** What the metrics are read from. */
export interface MetricSources {
  readonly kernel: NetKernel;
  readonly gossip: GossipRing;
  readonly dsm: DSMServer;
  /** The actors whose answered calls are counted, by name. */
  readonly servers: Readonly<Record<string, GenServer>>;
}

/** Every metric of a node, read now. */
export function nodeMetrics(s: MetricSources): Metric[] {
  const counter = (name: string, help: string, samples: readonly MetricSample[]): Metric => ({ name: `clusterluck_${name}`, type: 'counter', help, samples });
  const gauge = (name: string, help: string, samples: readonly MetricSample[]): Metric => ({ name: `clusterluck_${name}`, type: 'gauge', help, samples });
  const one = (value: number): MetricSample[] => [{ value }];
  const k = s.kernel.stats;
  const g = s.gossip.inspect();
  const v = s.gossip.viewStats;
  const d = s.dsm.stats();
  const answered: MetricSample[] = [];
  for (const [actor, server] of Object.entries(s.servers)) {
    for (const [event, byCode] of server.answered) for (const [code, value] of byCode) answered.push({ labels: { actor, event, code }, value });
  }
  const view = s.gossip.view();
  return [
    counter('calls_answered_total', 'Calls this node\'s actors answered, by actor, event and code (OK or the error code).', answered),
    counter('grants_total', 'Slots granted or refreshed by this node as owner.', one(d.grants)),
    counter('releases_total', 'Slots given back (close, destroy) at this node as owner.', one(d.releases)),
    counter('expirations_total', 'Leases that ran out at this node as owner.', one(d.expirations)),
    counter('frames_sent_total', 'Frames this node sent.', one(k.framesSent)),
    counter('messages_received_total', 'Messages this node received.', one(k.messagesReceived)),
    counter('frames_dropped_total', 'Inbound frames dropped, by reason.', Object.entries(k.dropped).map(([reason, value]) => ({ labels: { reason }, value }))),
    counter('queue_dropped_total', 'Queued outbound messages dropped because a peer\'s queue was full.', one(k.queueDropped)),
    counter('view_proposals_total', 'View changes this node proposed.', one(v.proposals)),
    counter('views_decided_total', 'Views this node saw decided as proposer.', one(v.decided)),
    counter('views_adopted_total', 'Views this node adopted (view changes).', one(v.adopted)),
    counter('probes_total', 'Failure-detector probes.', one(g.stats.probes)),
    counter('probes_failed_total', 'Failure-detector probes that got no ack.', one(g.stats.probesFailed)),
    gauge('view_number', 'The number of the view this node is on (0 before any).', one(view?.number ?? 0)),
    gauge('view_members', 'Members of that view.', one(view?.members.length ?? 0)),
    gauge('serving', '1 while this node may act as an owner (member, ownership lease held, no change pending).', one(g.serving ? 1 : 0)),
    gauge('semaphores_owned', 'Semaphores this node owns now.', one(d.owned)),
    gauge('requests_waiting', 'Requests waiting at this node for ownership to settle.', one(d.waiting)),
    gauge('handing_off', '1 while semaphore states are on their way to new owners.', one(d.handingOff ? 1 : 0)),
    gauge('peers_connected', 'Nodes with an open link to this one.', one(s.kernel.connectedNodes().length)),
    gauge('peer_rtt_ms', 'Round trip of failure-detector probes, by peer (moving average, ms).',
      [...s.gossip.peerRttMs()].map(([peer, value]) => ({ labels: { peer }, value: Math.round(value * 1000) / 1000 }))),
  ];
}

/** The metrics in Prometheus's text exposition format. */
export function toPrometheus(metrics: readonly Metric[]): string {
  const lines: string[] = [];
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`);
    for (const sample of m.samples) {
      const labels = Object.entries(sample.labels ?? {}).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
      lines.push(`${m.name}${labels.length === 0 ? '' : `{${labels.join(',')}}`} ${Number.isFinite(sample.value) ? sample.value : 'NaN'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The samples as rows, for the CLI's `stats`: metric, labels, value. */
export function metricRows(metrics: readonly Metric[]): { metric: string; labels: string; value: number }[] {
  return metrics.flatMap((m) => m.samples.map((sample) => ({
    metric: m.name.replace(/^clusterluck_/, ''),
    labels: Object.entries(sample.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(' '),
    value: sample.value,
  })));
}
