import express, { type NextFunction, type Request, type Response } from 'express';
import type { Endpoint } from '../admission/response.js';
import { InvalidReviewError, RecordWriteError } from '../errors.js';
import { handleReview, type ReviewDependencies } from './review-handler.js';

export interface AppDependencies extends ReviewDependencies {
  /** True when certificates are loaded and the cluster view is synced. */
  isReady: () => boolean;
}

/**
 * The HTTP routes: `POST /mutate` and `POST /validate` take AdmissionReviews,
 * `GET /healthz` reports the process is up, `GET /readyz` that it can decide.
 */
export function createApp(deps: AppDependencies): express.Express {
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

  const parseJson = express.json({ limit: deps.config.server.bodyLimitBytes, type: ['application/json', '+json'] });
  for (const endpoint of ['mutate', 'validate'] as const) {
    app.post(`/${endpoint}`, parseJson, reviewRoute(endpoint, deps));
  }

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ code: 'NOT_FOUND', message: 'no such route; use POST /mutate, POST /validate, GET /healthz or GET /readyz' });
  });
  app.use(bodyErrorHandler(deps));
  return app;
}

function reviewRoute(endpoint: Endpoint, deps: AppDependencies) {
  return async (req: Request, res: Response): Promise<void> => {
    if (!req.is('json')) {
      res.status(415).json({ code: 'INVALID_REVIEW', message: 'Content-Type must be application/json' });
      return;
    }
    try {
      const outcome = await handleReview(req.body, endpoint, deps);
      res.json(outcome.review);
    } catch (error) {
      if (error instanceof InvalidReviewError) {
        deps.logger.info({ endpoint, problem: error.message }, 'rejected malformed review');
        res.status(400).json({ code: error.code, message: error.message });
        return;
      }
      if (error instanceof RecordWriteError) {
        deps.logger.error({ err: error, endpoint }, 'decision record not written; answering 500 so the failure policy applies');
        res.status(500).json({ code: error.code, message: 'decision record could not be written' });
        return;
      }
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

function bodyErrorHandler(deps: AppDependencies) {
  return (error: BodyParserError, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error.type === 'entity.too.large') {
      res.status(413).json({
        code: 'INVALID_REVIEW',
        message: `request body exceeds the limit of ${deps.config.server.bodyLimitBytes} bytes (server.bodyLimitBytes)`,
      });
      return;
    }
    if (error.type === 'entity.parse.failed') {
      res.status(400).json({ code: 'INVALID_REVIEW', message: `request body is not valid JSON: ${error.message}` });
      return;
    }
    const status = typeof error.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) {
      deps.logger.error({ err: error }, 'unexpected failure while reading a request');
    }
    res.status(status).json({ code: status === 500 ? 'INTERNAL' : 'INVALID_REVIEW', message: error.message });
  };
}
