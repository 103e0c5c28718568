/** What the service counts for Prometheus (`GET /metrics`): requests, model calls, queues, errors, the process. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Times one model call: call at its start, call the result at its end. */
export type ModelTimer = (model: string, call: string) => () => void;

export class Metrics {
  readonly registry = new Registry();
  private readonly queues = new Map<string, () => number>();

  readonly requests = new Histogram({
    name: 'nomen_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'nomen_errors_total',
    help: 'Error answers by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  private readonly inference = new Histogram({
    name: 'nomen_model_inference_seconds',
    help: 'Model calls by model and call (one call may be a batch)',
    labelNames: ['model', 'call'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  constructor() {
    const queues = this.queues;
    new Gauge({
      name: 'nomen_queue_depth',
      help: 'Work waiting to start, by queue',
      labelNames: ['queue'] as const,
      registers: [this.registry],
      collect() {
        for (const [queue, depth] of queues) this.set({ queue }, depth());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'nomen_' });
  }

  readonly timeModel: ModelTimer = (model, call) => this.inference.startTimer({ model, call });

  /** Reports `depth()` as the depth of `queue` at each scrape. */
  watchQueue(queue: string, depth: () => number): void {
    this.queues.set(queue, depth);
  }
}
