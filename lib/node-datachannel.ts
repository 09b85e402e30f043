// `clusterluck/node-datachannel`: WebRTC for Node members (createWebRtcCluster's `wrtc`) from
// node-datachannel, an optional peer dependency.
export { nodeDatachannelWrtc, type NodeDatachannelOptions } from './transports/webrtc/node-datachannel.node.js';
