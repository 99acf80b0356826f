// The demo page's script: lists batches through ntropy-bff, with filters built from the proxy's OpenAPI document.
// The page's URL fragment carries the proxy's URL and a token (#api=…&token=…); fragments never reach a server.

const fragment = new URLSearchParams(location.hash.slice(1));
const api = fragment.get('api') ?? 'http://127.0.0.1:8080';
const byId = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat('en');

let lastQuery = new URLSearchParams();
let nextCursor = null;
let answered = 0;

// One control per query parameter the proxy documents (cursor aside: that is "Load more"), so the filters
// follow the query schema the proxy validates with.
async function buildFilters() {
  const res = await fetch(`${api}/openapi.json`);
  if (!res.ok) throw new Error(`${api}/openapi.json answered ${res.status}`);
  const openapi = await res.json();
  const parameters = openapi.paths['/v3/batches'].get.parameters;
  for (const parameter of parameters) {
    if (parameter.in === 'query' && parameter.name !== 'cursor')
      byId('filter-fields').append(controlFor(parameter));
  }
}

function controlFor({ name, description, schema }) {
  const label = document.createElement('label');
  label.append(name.replace('_', ' '));
  let control;
  if (Array.isArray(schema.enum)) {
    control = document.createElement('select');
    control.append(new Option('any', ''), ...schema.enum.map((value) => new Option(value, value)));
  } else {
    control = document.createElement('input');
    if (schema.type === 'integer') {
      control.type = 'number';
      control.min = String(schema.minimum);
      control.max = String(schema.maximum);
      control.placeholder = String(schema.default ?? '');
    } else {
      control.placeholder = (schema.examples ?? []).slice(0, 2).join(' or ');
    }
  }
  control.name = name;
  control.title = description ?? '';
  label.append(control);
  return label;
}

function queryFromFilters() {
  const query = new URLSearchParams();
  for (const control of byId('filter-fields').querySelectorAll('[name]')) {
    if (control.value.trim() !== '') query.set(control.name, control.value.trim());
  }
  return query;
}

// Counts finished listings on <body data-answered>, so a test (or a curious reader) can wait for the next one.
async function list(isMore) {
  try {
    await fetchPage(isMore);
  } finally {
    answered += 1;
    document.body.dataset.answered = String(answered);
  }
}

async function fetchPage(isMore) {
  const query = isMore ? new URLSearchParams(lastQuery) : queryFromFilters();
  if (isMore) query.set('cursor', nextCursor);
  else lastQuery = query;
  byId('problem').hidden = true;
  let res;
  try {
    res = await fetch(`${api}/v3/batches?${query}`, {
      headers: { Authorization: `Bearer ${byId('token').value.trim()}` },
    });
  } catch {
    showProblem({
      title: 'No answer the page may read',
      detail: `${api} could not be reached, or refused this page's origin (CORS): see the browser console.`,
    });
    return;
  }
  // Readable from script only because the proxy lists them in Access-Control-Expose-Headers.
  byId('request-id').textContent = res.headers.get('X-Request-ID') ?? '(not exposed)';
  byId('x-cache').textContent = res.headers.get('X-Cache') ?? '—';
  byId('response').hidden = false;
  const body = await res.json();
  if (!res.ok) {
    showProblem(body);
    return;
  }
  if (!isMore) byId('batches').replaceChildren();
  byId('batches').append(...body.data.map(rowFor));
  nextCursor = body.next_cursor ?? null;
  byId('more').hidden = nextCursor === null;
  byId('count').textContent = `${byId('batches').rows.length} batches shown`;
}

function rowFor(batch) {
  const row = document.createElement('tr');
  row.dataset.status = batch.status;
  const status = document.createElement('span');
  status.className = `badge status-${batch.status}`;
  status.textContent = batch.status;
  const progress = document.createElement('progress');
  progress.max = Math.max(batch.total, 1);
  progress.value = batch.progress;
  const share = batch.total === 0 ? 0 : Math.floor((batch.progress / batch.total) * 100);
  const counts = ` ${numbers.format(batch.progress)} / ${numbers.format(batch.total)} · ${share}%`;
  const id = document.createElement('code');
  id.textContent = batch.id;
  const cells = [[status], [progress, counts], [batch.operation], [batch.created_at], [id]];
  for (const content of cells) {
    const cell = document.createElement('td');
    cell.append(...content);
    row.append(cell);
  }
  return row;
}

function showProblem(problem) {
  byId('problem-title').textContent = problem.title ?? 'Error';
  byId('problem-detail').textContent = problem.detail ?? '';
  byId('problem-request-id').textContent = problem.request_id ?? '—';
  byId('problem-errors').replaceChildren(
    ...(problem.errors ?? []).map(({ field, message }) => {
      const item = document.createElement('li');
      item.textContent = `${field}: ${message}`;
      return item;
    }),
  );
  byId('problem').hidden = false;
}

byId('api').textContent = api;
byId('token').value = fragment.get('token') ?? '';
byId('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  void list(false);
});
byId('more').addEventListener('click', () => void list(true));
buildFilters().catch((error) => {
  byId('filters-note').textContent = `Filters unavailable: ${error.message}`;
  byId('filters-note').hidden = false;
});
void list(false);
