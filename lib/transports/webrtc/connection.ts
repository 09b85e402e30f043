// One WebRTC data channel carrying whole frames, packed into chunks of at most 16 KiB as
// `chunks.ts` describes, and put back together here.
//
// A graceful close is a goodbye record after the last frame, answered by the peer's own goodbye
// and an acknowledgement; a side closes the peer connection once it holds both from the other
// side: the goodbye proves it got every frame, the acknowledgement that the peer got ours. A
// channel that ends without the peer's goodbye was aborted, or its process died.
import type { Clock, TimerHandle } from '../../env/clock.js';
import { ClusterluckError } from '../../env/errors.js';
import { checkSend, type Address, type CloseDetail, type Connection, type ConnectionStatus } from '../../env/transport.js';
import { AdmittedConnection } from '../admitted-connection.js';
import { ChunkPacker, chunkTag, readChunk, type ChunkRecord } from './chunks.js';
import type { RtcPeer, RtcChannel } from './peer.js';

/** Bytes handed to the data channel before the rest waits in our queue; Chromium fails a channel past 16 MiB. */
const channelBytesMax = 256 * 1024;
/** `bufferedamountlow` fires when the channel's buffer falls to this; it refills the channel. */
const channelLowBytes = 64 * 1024;
const goodbyeChunk = Uint8Array.of(chunkTag.goodbye);
const goodbyeAckChunk = Uint8Array.of(chunkTag.goodbyeAck);

/** Limits and time a {@link WebRtcConnection} runs with. */
export interface WebRtcConnectionSettings {
  readonly frameBytesMax: number;
  readonly highWaterMarkBytes: number;
  readonly closeTimeoutMs: number;
  readonly clock: Clock;
}

/** A {@link Connection} over one RTC data channel; made once the channel is open. */
export class WebRtcConnection extends AdmittedConnection implements Connection {
  readonly #peer: RtcPeer;
  readonly #channel: RtcChannel;
  readonly #s: WebRtcConnectionSettings;
  readonly #onEnd: () => void;
  #status: ConnectionStatus = 'open';
  /** Frames accepted by `send` and not yet handed to the channel. */
  readonly #outbox = new ChunkPacker();
  /** Chunks received before this side was admitted. */
  #inbox: Uint8Array[] = [];
  /** The frame being reassembled. */
  #parts: Uint8Array[] = [];
  #partsBytes = 0;
  #goodbyeSent = false;
  #goodbyeReceived = false;
  #ackOwed = false;
  #ackReceived = false;
  #ended = false;
  #error: Error | undefined;
  #closeTimer: TimerHandle | undefined;

  constructor(init: {
    id: string; local: Address; remote: Address; outbound: boolean; peer: RtcPeer; channel: RtcChannel;
    settings: WebRtcConnectionSettings; onEnd: () => void;
  }) {
    super({ id: init.id, localAddress: init.local, remoteAddress: init.remote, outbound: init.outbound });
    this.#peer = init.peer;
    this.#channel = init.channel;
    this.#s = init.settings;
    this.#onEnd = init.onEnd;
    this.#channel.bufferedAmountLowThreshold = Math.min(channelLowBytes, Math.floor(this.#s.highWaterMarkBytes / 2));
    this.#channel.addEventListener('bufferedamountlow', () => this.flush());
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  get bufferedBytes(): number {
    return this.#ended ? 0 : this.#outbox.bytes + this.#channel.bufferedAmount;
  }

  send(frame: Uint8Array): boolean {
    checkSend(this.id, this.#status, frame, this.#s.frameBytesMax);
    // A copy, as a plain Uint8Array: the caller may reuse its buffer.
    this.#outbox.push(new Uint8Array(frame));
    this.scheduleFlush();
    return this.sendAnswer(this.#s.highWaterMarkBytes);
  }

  /** Flushes what is queued, then the goodbye; bounded by the close timer. */
  protected override beginClose(): void {
    this.#status = 'closing';
    this.#startCloseTimer();
    this.scheduleFlush();
  }

  abort(error?: Error): void {
    this.admitSoon();
    this.#end(error ?? new ClusterluckError('ABORTED', `connection ${this.id} was aborted`));
  }

  /** Internal: a chunk from the data channel. */
  receive(chunk: Uint8Array): void {
    if (this.#ended) return;
    if (this.admitted) this.#take(chunk);
    else this.#inbox.push(chunk);
  }

  /** Internal: the peer connection ended (the remote closed it, or it failed). */
  peerClosed(error: Error | undefined): void {
    if (this.#ended) return;
    const graceful = this.#goodbyeReceived && this.#goodbyeSent && error === undefined;
    this.#end(graceful ? undefined : new ClusterluckError('CONNECTION_CLOSED',
      error === undefined ? `connection ${this.id} ended without a goodbye: the peer aborted or died`
        : `connection ${this.id} failed: ${error.message}`, error === undefined ? undefined : { cause: error }));
  }

  /** Its owner listens: the chunks that came meanwhile, then a close. */
  protected override onAdmitted(): void {
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const chunk of inbox) if (!this.#ended) this.#take(chunk);
  }

  #take(chunk: Uint8Array): void {
    const bad = readChunk(chunk, (record) => this.#takeRecord(record));
    if (bad !== undefined) this.#end(new ClusterluckError('BAD_MESSAGE', `peer of ${this.id} sent a malformed chunk: ${bad}`));
  }

  /** Handles one record; false once the connection has ended and the rest must be ignored. */
  #takeRecord(record: ChunkRecord): boolean {
    if (this.#ended) return false;
    if (record.kind === 'piece') this.#takePiece(record.bytes, record.last);
    else if (record.kind === 'goodbye' && !this.#goodbyeReceived) {
      // The peer sends no more frames: what we queued still goes out, then our goodbye and the ack.
      this.#goodbyeReceived = true;
      this.#ackOwed = true;
      if (this.#status === 'open') {
        this.runBeforeFlush();
        this.#status = 'closing';
      }
      this.#startCloseTimer();
      this.flush();
    } else if (record.kind === 'goodbyeAck' && this.#goodbyeReceived && this.#goodbyeSent && !this.#ackReceived) {
      this.#ackReceived = true;
      this.#end(undefined);
    } else {
      this.#end(new ClusterluckError('BAD_MESSAGE', `peer of ${this.id} sent an unexpected ${record.kind}`));
    }
    return !this.#ended;
  }

  #takePiece(bytes: Uint8Array, last: boolean): void {
    if (this.#goodbyeReceived) return this.#end(new ClusterluckError('BAD_MESSAGE', `peer of ${this.id} sent a frame after its goodbye`));
    this.#partsBytes += bytes.byteLength;
    if (this.#partsBytes > this.#s.frameBytesMax) {
      return this.#end(new ClusterluckError('BAD_MESSAGE',
        `peer of ${this.id} sent a frame over frameBytesMax ${this.#s.frameBytesMax}`));
    }
    if (!last) return void this.#parts.push(bytes);
    // Always a fresh plain Uint8Array: what the channel hands us may be a Buffer, and is shared.
    let frame: Uint8Array;
    if (this.#parts.length === 0) frame = new Uint8Array(bytes);
    else {
      frame = new Uint8Array(this.#partsBytes);
      let at = 0;
      for (const part of this.#parts) {
        frame.set(part, at);
        at += part.byteLength;
      }
      frame.set(bytes, at);
      this.#parts = [];
    }
    this.#partsBytes = 0;
    this.emit('message', frame);
  }

  /** Moves queued chunks into the channel up to its cap, then any goodbye and ack that are due. */
  protected override flush(): void {
    this.runBeforeFlush();
    if (this.#ended) return;
    try {
      while (!this.#outbox.isEmpty && this.#channel.bufferedAmount < channelBytesMax) {
        this.#peer.send(this.#outbox.next() as Uint8Array);
      }
      if (!this.#outbox.isEmpty) return this.drainIfDue(this.#s.highWaterMarkBytes);
      if (this.#status === 'closing' && !this.#goodbyeSent) {
        this.#goodbyeSent = true;
        this.#peer.send(goodbyeChunk);
      }
      if (this.#ackOwed && this.#goodbyeSent) {
        this.#ackOwed = false;
        this.#peer.send(goodbyeAckChunk);
      }
    } catch (err) {
      return this.#end(new ClusterluckError('CONNECTION_CLOSED', `connection ${this.id} could not send`, { cause: err }));
    }
    this.drainIfDue(this.#s.highWaterMarkBytes);
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined) return;
    this.#closeTimer = this.#s.clock.setTimer(this.#s.closeTimeoutMs, () => this.#end(new ClusterluckError('TIMEOUT',
      `connection ${this.id} did not finish closing within ${this.#s.closeTimeoutMs} ms`)));
  }

  /** Ends this side now: drops what is queued, closes the peer connection, and owes one `close` event. */
  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#status = 'closed';
    this.#error = error;
    this.#outbox.clear();
    this.#inbox = [];
    this.#parts = [];
    if (this.#closeTimer !== undefined) this.#s.clock.cancelTimer(this.#closeTimer);
    if (!this.#peer.destroyed) this.#peer.destroy();
    this.#onEnd();
    this.tellClose(error === undefined ? {} : { error });
  }

}
