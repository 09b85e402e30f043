// The WebRTC transport in Chromium, two transports in one page, with the browser's own
// RTCPeerConnection: the shared compliance suite and the WebRTC-specific tests. The
// `chromium-webrtc` project grants the media permission and loopback flag this needs.
import { webrtcSuites } from './webrtc-behaviour.js';

webrtcSuites('webrtc transport (Chromium)', 'tab', { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }, true);
