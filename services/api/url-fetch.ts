/**
 * Images by URL (`{"url": ...}`), for deployments that turn it on (NOMEN_ALLOW_URL_FETCH). The server must not
 * become a way into its own network: every address a URL leads to, redirects included, is checked after DNS
 * resolution and the connection goes to that checked address (no second lookup to rebind); only public
 * unicast addresses pass, unless configured ranges allow more. Bodies are cut at the image size limit and the
 * whole fetch at a deadline.
 */
import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DomainError } from '../../concepts/errors.js';

export interface UrlFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  /** CIDR ranges allowed besides public addresses, e.g. an image service on the private network. */
  allow: string[];
}

const MAX_REDIRECTS = 3;

/** Public unicast: not private, loopback, link-local, multicast, reserved, or an IPv6 form that embeds one. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // `process` turns an IPv4-mapped IPv6 address into the IPv4 one it stands for.
  return ipaddr.process(address).range() === 'unicast';
}

class Refused extends DomainError {
  constructor(message: string) {
    super('invalid_request', message);
  }
}

export class UrlFetcher {
  private readonly allowed: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  constructor(private readonly options: UrlFetchOptions) {
    this.allowed = options.allow.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /**
   * The image at `url`; 400 for a URL or address that is refused, 413 past the size limit, 422 when it cannot be had.
   */
  async fetch(url: string): Promise<Uint8Array> {
    // One deadline for every hop and the body: aborting destroys the request and its response.
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let target = this.parse(url);
    for (let hop = 0; ; hop++) {
      const res = await this.get(target, signal);
      const location = res.headers.location;
      if (res.statusCode! >= 300 && res.statusCode! < 400 && location) {
        res.resume();
        if (hop === MAX_REDIRECTS)
          throw new DomainError('unprocessable', `the image URL redirects more than ${MAX_REDIRECTS} times`);
        target = this.parse(new URL(location, target).href);
        continue;
      }
      if (res.statusCode! < 200 || res.statusCode! >= 300) {
        res.resume();
        throw new DomainError('unprocessable', `the image URL answered HTTP ${res.statusCode}`);
      }
      return this.read(res, signal);
    }
  }

  private parse(url: string): URL {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Refused('url: not a URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new Refused('url: only http and https URLs are fetched');
    if (parsed.username || parsed.password) throw new Refused('url: URLs with credentials are not fetched');
    return parsed;
  }

  private allows(address: string): boolean {
    if (isPublicAddress(address)) return true;
    const ip = ipaddr.process(address);
    return this.allowed.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
  }

  private check(host: string, address: string): void {
    if (!this.allows(address))
      throw new Refused(
        `url: ${host} is at ${address}, a private, loopback or otherwise internal address, which is not fetched`,
      );
  }

  /** DNS as usual, then every address checked; the socket connects to what this returns. */
  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      try {
        if (addresses.length === 0) throw new DomainError('unprocessable', `url: ${hostname} has no address`);
        for (const a of addresses) this.check(hostname, a.address);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };

  private get(url: URL, signal: AbortSignal): Promise<IncomingMessage> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // A literal address never reaches the lookup.
    if (isIP(host)) this.check(host, host);
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, {
        method: 'GET',
        lookup: this.lookup,
        signal,
        headers: { 'User-Agent': 'nomen-image-fetch', Accept: 'image/*' },
      });
      req.on('response', resolve);
      req.on('error', (err) => reject(this.failure(err)));
      req.end();
    });
  }

  private read(res: IncomingMessage, signal: AbortSignal): Promise<Uint8Array> {
    const { maxBytes } = this.options;
    if (Number(res.headers['content-length']) > maxBytes) {
      res.destroy();
      return Promise.reject(this.tooLarge());
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) res.destroy(this.tooLarge());
        else chunks.push(chunk);
      });
      res.on('error', (err) => reject(this.failure(err)));
      res.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
      // Cut off without an error of its own (the deadline, or the server hanging up): settles all the same.
      res.on('close', () => {
        if (!res.complete)
          reject(
            this.failure(
              signal.aborted ? signal.reason : new Error('the connection closed before the end of the image'),
            ),
          );
      });
    });
  }

  private failure(err: Error): DomainError {
    if (err instanceof DomainError) return err;
    if (err.name === 'AbortError' || err.name === 'TimeoutError')
      return new DomainError('unprocessable', `the image URL did not answer within ${this.options.timeoutMs} ms`);
    return new DomainError('unprocessable', `could not fetch the image URL: ${err.message}`);
  }

  private tooLarge(): DomainError {
    return new DomainError('too_large', `the image at the URL is over the limit of ${this.options.maxBytes} bytes`);
  }
}
