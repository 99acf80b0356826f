# ntropy-bff: build with the dev toolchain, run the compiled JavaScript as a non-root user.
# The base image is pinned to an exact Node.js release (a maintained LTS line the test suite runs on);
# bump it deliberately, with the tests.
FROM node:24.20.0-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
# src/demo/ is not in the build context (.dockerignore): the image has no simulated upstream or dev tokens.
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24.20.0-trixie-slim
ENV PORT=8080 HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The V8 heap flags of `npm start` (package.json), measured in BENCHMARKS.md ("Memory").
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/main.js"]
