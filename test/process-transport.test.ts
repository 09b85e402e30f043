// The simulator's per-process wrapper (sim/network/process-transport.ts) over the simulated network,
// as every simulated node dials and listens: it must meet the same contract as the transports.
import { processTransport } from '../sim/network/process-transport.js';
import { simNetworkFactory } from './support/sim-transports.js';
import { transportCompliance } from './transport-compliance.js';

transportCompliance('process transport over the sim network', simNetworkFactory('process-compliance', (t) => processTransport(t).transport));
