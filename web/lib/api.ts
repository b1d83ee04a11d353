// Calls to the engine's API with a key, turning its JSON errors into
// exceptions that carry the code, the field and the message.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    private readonly key: string,
    private readonly base = '',
    // Who makes changes, for the audit log (X-Vitrina-Actor).
    private readonly actor = '',
  ) {}

  async get<T = any>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async post<T = any>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  async put<T = any>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }

  async delete<T = any>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: 'Bearer ' + this.key };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.actor) headers['X-Vitrina-Actor'] = this.actor;
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'network', 'the engine did not answer: ' + String(error));
    }
    const text = await response.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below
    }
    if (!response.ok) {
      const error = json?.error;
      throw new ApiError(
        response.status,
        error?.code ?? 'http_' + response.status,
        error?.message ?? (text.slice(0, 200) || response.statusText),
        error?.field ?? null,
      );
    }
    return json as T;
  }
}

// Query strings from objects, leaving out empty values.
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    search.set(name, String(value));
  }
  const text = search.toString();
  return text ? '?' + text : '';
}

// An error for people. The server's messages usually start with the field
// they are about ("name: required ..."); it is added when they do not.
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  return error.field && !error.message.startsWith(error.field) ? `${error.field}: ${error.message}` : error.message;
}
