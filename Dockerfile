# Production image: gunicorn serving config.wsgi, static files by whitenoise.
# The same image runs the web server, the Celery worker and beat (see
# docker-compose.yml and deploy/k8s/).
# Front-end packages (Chart.js, htmx, the barcode-detector polyfill), exactly as locked in package-lock.json, and the
# stylesheet Tailwind builds from static/src/app.css and the classes the templates use.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The whole tree (.dockerignore keeps node_modules out): Tailwind reads the templates' classes.
COPY . .
RUN npm run build:css

FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

WORKDIR /app

# Label photos read their printed text with Tesseract OCR (pytesseract runs the program).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr \
 && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
COPY --from=assets /assets/node_modules/chart.js/dist node_modules/chart.js/dist
COPY --from=assets /assets/node_modules/htmx.org/dist node_modules/htmx.org/dist
COPY --from=assets /assets/node_modules/barcode-detector/dist/iife node_modules/barcode-detector/dist/iife
COPY --from=assets /assets/node_modules/zxing-wasm/dist/reader node_modules/zxing-wasm/dist/reader
COPY --from=assets /assets/static/build static/build

# collectstatic needs settings, not services: throwaway values, never used at run time.
RUN DEBUG=0 ALLOWED_HOSTS=build SITE_URL=https://build.invalid EMAIL_URL=dummymail:// METRICS_TOKEN=collectstatic-only \
    SECRET_KEY=collectstatic-only-not-a-runtime-secret-0123456789abcdefghij \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
 && mkdir -p /app/var && chown -R app:app /app/var

USER app
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"

CMD ["gunicorn", "config.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
