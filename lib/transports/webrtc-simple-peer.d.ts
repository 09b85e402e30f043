// simple-peer's prebuilt bundle ships no types; `webrtc-peer.ts` describes the part we use.
declare module 'simple-peer/simplepeer.min.js' {
  const SimplePeer: unknown;
  export default SimplePeer;
}
