# The inferops operator image: Node.js 24 running the TypeScript sources directly (type stripping), with
# production dependencies only, as a non-root user, on a read-only root filesystem.
#
#   docker build -t inferops:dev .
#
# BASE_IMAGE defaults to the upstream Node.js 24 image. Where no registry is reachable, build on the local
# stand-in made from Debian's packages and the npm registry (hack/base-image.sh):
#   docker build --network host --build-arg BASE_IMAGE="$(hack/base-image.sh)" -t inferops:dev .
ARG BASE_IMAGE=node:24-bookworm-slim

# Production dependencies, installed from the lock file (no dev dependencies, no install scripts), without
# the type declarations and source maps nothing reads at run time (about 54 MB).
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
  && rm -rf /root/.npm

FROM ${BASE_IMAGE}
# A fixed uid/gid (65532, as distroless' nonroot) so Pod securityContexts can name it.
RUN groupadd --system --gid 65532 inferops \
  && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin inferops
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# Only the operator's sources; tests and test data are left out by .dockerignore.
COPY operator/src ./operator/src
USER 65532:65532
# /healthz, /readyz and /metrics (--http-address, default :8080).
EXPOSE 8080
# The operator writes nothing to disk: the root filesystem can be read-only (mount an emptyDir on /tmp for
# anything a library may put there). Node is PID 1 and handles SIGTERM: the operator finishes in-flight
# reconciles and releases its Lease, so a standby takes over at once.
ENTRYPOINT ["node", "operator/src/cli/main.ts"]
CMD ["operator"]
