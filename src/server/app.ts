import express, { type NextFunction, type Request, type Response } from 'express';
import type { Endpoint } from '../admission/response.js';
import { InvalidReviewError, RecordWriteError } from '../errors.js';
import { createMetrics, type GuardMetrics } from '../metrics/metrics.js';
import { handleReview, type ReviewDependencies } from './review-handler.js';

interface RequestWithRawBody extends Request {
  rawBody?: Buffer;
}

export interface AppDependencies extends ReviewDependencies {
  /** True when certificates are loaded and the cluster view is synced. */
  isReady: () => boolean;
}

/** The dependencies with the metrics the app serves, its own when the caller passed none. */
type WiredDependencies = AppDependencies & { metrics: GuardMetrics };

/**
 * The HTTP routes: `POST /mutate` and `POST /validate` take AdmissionReviews,
 * `GET /healthz` reports the process is up, `GET /readyz` that it can decide, and
 * `GET /metrics` serves Prometheus metrics. Without `deps.metrics` the app creates
 * its own registry.
 */
export function createApp(appDeps: AppDependencies): express.Express {
  const metrics = appDeps.metrics ?? createMetrics({ clusterViewSynced: () => appDeps.view.synced() });
  const deps: WiredDependencies = { ...appDeps, metrics };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', metricsRoute(deps));

  const parseJson = express.json({
    limit: deps.config.server.bodyLimitBytes,
    type: ['application/json', '+json'],
    // Keeps the raw body, so the record can hash the object's bytes as sent.
    verify: (req, _res, buffer) => {
      (req as RequestWithRawBody).rawBody = buffer;
    },
  });
  for (const endpoint of ['mutate', 'validate'] as const) {
    app.post(`/${endpoint}`, timeRequest(endpoint, metrics), parseJson, reviewRoute(endpoint, deps));
  }

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ code: 'NOT_FOUND', message: 'no such route; use POST /mutate, POST /validate, GET /healthz, GET /readyz or GET /metrics' });
  });
  app.use(bodyErrorHandler(deps));
  return app;
}

/** Observes the whole request, body parsing included, when its response is sent. */
function timeRequest(endpoint: Endpoint, metrics: GuardMetrics) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const start = performance.now();
    res.once('finish', () => metrics.observeRequest(endpoint, (performance.now() - start) / 1000));
    next();
  };
}

function metricsRoute(deps: WiredDependencies) {
  return async (_req: Request, res: Response): Promise<void> => {
    try {
      const text = await deps.metrics.registry.metrics();
      res.type(deps.metrics.registry.contentType).send(text);
    } catch (error) {
      deps.logger.error({ err: error }, 'collecting metrics failed');
      res.status(500).json({ code: 'INTERNAL', message: 'collecting metrics failed; see the guard\'s log' });
    }
  };
}

function reviewRoute(endpoint: Endpoint, deps: WiredDependencies) {
  return async (req: Request, res: Response): Promise<void> => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    if (!hasBody) {
      deps.metrics.countError('invalid_review');
      res.status(400).json({ code: 'INVALID_REVIEW', message: 'request body is empty; send an AdmissionReview as JSON' });
      return;
    }
    if (!req.is('json')) {
      deps.metrics.countError('invalid_review');
      res.status(415).json({ code: 'INVALID_REVIEW', message: 'Content-Type must be application/json' });
      return;
    }
    try {
      const outcome = await handleReview(req.body, endpoint, deps, (req as RequestWithRawBody).rawBody);
      res.json(outcome.review);
    } catch (error) {
      if (error instanceof InvalidReviewError) {
        deps.metrics.countError('invalid_review');
        deps.logger.info({ endpoint, problem: error.message }, 'rejected malformed review');
        res.status(400).json({ code: error.code, message: error.message });
        return;
      }
      if (error instanceof RecordWriteError) {
        deps.metrics.countError('record_write_failed');
        deps.logger.error({ err: error, endpoint }, 'decision record not written; responding 500 so the failure policy applies');
        res.status(500).json({ code: error.code, message: 'decision record could not be written' });
        return;
      }
      deps.metrics.countError('internal');
      deps.logger.error({ err: error, endpoint }, 'unexpected failure while handling a review');
      res.status(500).json({ code: 'INTERNAL', message: 'internal error in phi-mesh-guard; see its log' });
    }
  };
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

function bodyErrorHandler(deps: WiredDependencies) {
  return (error: BodyParserError, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error.type === 'entity.too.large') {
      deps.metrics.countError('body_too_large');
      res.status(413).json({
        code: 'INVALID_REVIEW',
        message: `request body exceeds the limit of ${deps.config.server.bodyLimitBytes} bytes (server.bodyLimitBytes)`,
      });
      return;
    }
    if (error.type === 'entity.parse.failed') {
      deps.metrics.countError('invalid_review');
      res.status(400).json({ code: 'INVALID_REVIEW', message: `request body is not valid JSON: ${error.message}` });
      return;
    }
    const status = typeof error.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) {
      deps.logger.error({ err: error }, 'unexpected failure while reading a request');
    }
    deps.metrics.countError(status === 500 ? 'internal' : 'invalid_review');
    res.status(status).json({ code: status === 500 ? 'INTERNAL' : 'INVALID_REVIEW', message: error.message });
  };
}
