# syntax=docker/dockerfile:1
#
# phi-mesh-guard container image.
#
# Node.js 24 is a long-term-support line with maintenance support until April
# 2028, and Node.js 20 reached its end of life in April 2026. The code also runs
# on Node.js 20.11 or later (package.json "engines"). The unit tests run on the
# Node.js of the machine that runs them; this image's Node.js 24 is exercised by
# `npm run e2e:kind`. Pin the base image by digest if your policy requires it.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The manifests command reads the kustomize base at run time.
COPY manifests ./manifests
# The UID and GID that the Deployment's securityContext names; no passwd entry
# is needed. Files in /app stay owned by root and read-only for this user.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--config", "/etc/phi-mesh-guard/config.yaml"]
