// WebRTC for Node members: node-datachannel's polyfill with two fixes for the transport:
// descriptions come back as plain `{ type, sdp }` objects (the polyfill's own refuse assignment,
// and what we signal is copied out of them); and ICE binds the address given (127.0.0.1 for
// a member on loopback, without which it gathers no loopback candidate).
//
// A third fix is for speed: an offer says `a=setup:active`, so the dialer starts DTLS. As
// generated (`actpass`), libdatachannel makes the answerer the DTLS client; when the answerer's
// ICE completes first its ClientHello is dropped and DTLS retransmits after 1 s, so about one
// connect in three took 1 s instead of 10-60 ms. The polyfill ignores the SDP handed to
// `setLocalDescription`, so only the remote sees the change, and answers `passive`.
//
// A fourth is for a libdatachannel race: when the answerer's connectivity checks reach the
// offerer before the offerer has applied the answer, applying it sometimes fails with "Got a
// remote candidate without ICE transport" (more often the busier the CPU). So the offerer keeps
// its candidates (from the offer's SDP and trickled) until the answer is in; the answerer can
// only check once the offerer can answer. That cut failures about fourfold under load, not to
// zero, which is why the transport also retries a failed negotiation.
import {
  RTCIceCandidate, RTCPeerConnection as PolyfillPeerConnection, RTCSessionDescription,
} from 'node-datachannel/polyfill';
import { invalidArgument } from '../../env/errors.js';
import type { WebRtcImplementation } from './transport.js';

type Config = ConstructorParameters<typeof PolyfillPeerConnection>[0];

/** Options of {@link nodeDatachannelWrtc}. */
export interface NodeDatachannelOptions {
  /** The local address ICE binds and gathers candidates on (e.g. '127.0.0.1', a LAN address). @default every interface */
  readonly bindAddress?: string;
}

/**
 * node-datachannel's RTC classes, fixed for the transport (see above), for `createWebRtcCluster`'s
 * `wrtc`. node-datachannel is an optional peer dependency: install it to use this entry.
 */
export function nodeDatachannelWrtc(options: NodeDatachannelOptions = {}): WebRtcImplementation {
  const bindAddress = options.bindAddress;
  if (bindAddress !== undefined && (typeof bindAddress !== 'string' || bindAddress === '')) throw invalidArgument('bindAddress', bindAddress, 'an IP address');
  const bind = bindAddress === undefined ? {} : { bindAddress };
  class BoundPeerConnection extends FixedPeerConnection {
    constructor(config?: Config) {
      super({ ...config, ...bind } as Config);
    }
  }
  return { RTCPeerConnection: BoundPeerConnection, RTCSessionDescription, RTCIceCandidate };
}

class FixedPeerConnection extends PolyfillPeerConnection {
  /** The offerer's own candidates, held until the answer is in (see fix 4). */
  #held: Event[] | undefined;

  constructor(config?: Config) {
    super({ iceServers: [], ...config } as Config);
  }

  override dispatchEvent(event: Event): boolean {
    if (event.type === 'icecandidate' && this.#held !== undefined) {
      this.#held.push(event);
      return true;
    }
    return super.dispatchEvent(event);
  }

  override async setRemoteDescription(...args: Parameters<PolyfillPeerConnection['setRemoteDescription']>): Promise<void> {
    await super.setRemoteDescription(...args);
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const event of held) super.dispatchEvent(event);
  }

  override async createOffer(...args: Parameters<PolyfillPeerConnection['createOffer']>): Promise<RTCSessionDescriptionInit> {
    this.#held ??= [];
    const { type, sdp } = await super.createOffer(...args);
    return { type, sdp: activeOffer(sdp) } as RTCSessionDescriptionInit;
  }

  /** The local offer as the remote should see it (active, no candidates), for code that reads it back. */
  override get localDescription(): PolyfillPeerConnection['localDescription'] {
    const description = super.localDescription as RTCSessionDescriptionInit | null;
    if (description?.type !== 'offer' || description.sdp === undefined) return super.localDescription;
    const offer = { type: 'offer', sdp: activeOffer(description.sdp) } as const;
    return { ...offer, toJSON: () => offer } as unknown as PolyfillPeerConnection['localDescription'];
  }

  override async createAnswer(...args: Parameters<PolyfillPeerConnection['createAnswer']>): Promise<RTCSessionDescriptionInit> {
    const { type, sdp } = await super.createAnswer(...args);
    return { type, sdp } as RTCSessionDescriptionInit;
  }
}

function activeOffer(sdp: string): string {
  return sdp.replace(/a=setup:actpass/g, 'a=setup:active').replace(/a=candidate:[^\r\n]*\r?\n/g, '');
}
