import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type ApiProblem, api, ok } from '../api/client';
import type { paths } from '../api/schema';
import { asProblem } from './hooks';

type Page<T> = { items: T[]; nextCursor?: string | null };

/**
 * A cursor-paginated list: the first page on mount (and when `deps` change), `more()` appends the next one.
 */
export function usePaged<T>(
  load: (cursor: string | undefined) => Promise<Page<T>>,
  deps: readonly unknown[],
) {
  const [items, setItems] = useState<T[]>();
  const [cursor, setCursor] = useState<string | null | undefined>();
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<ApiProblem>();
  const generation = useRef(0);
  const fetchPage = async (after: string | undefined, append: boolean) => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const page = await load(after);
      if (mine !== generation.current) return;
      setItems((current) => (append && current ? [...current, ...page.items] : page.items));
      setCursor(page.nextCursor ?? null);
      setProblem(undefined);
    } catch (error) {
      if (mine === generation.current) setProblem(asProblem(error));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  };
  const reload = useCallback(() => fetchPage(undefined, false), deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return {
    items,
    loading,
    problem,
    reload,
    hasMore: Boolean(cursor),
    more: () => (cursor ? fetchPage(cursor, true) : Promise.resolve()),
  };
}

/** The tenant routes that list a page of items (`GET /v1/tenants/{tenantId}/…?cursor=`). */
type TenantListPath = {
  [P in keyof paths]: paths[P] extends {
    get: {
      parameters: { path: { tenantId: string }; query?: { cursor?: string } };
      responses: { 200: { content: { 'application/json': Page<unknown> } } };
    };
  }
    ? P
    : never;
}[keyof paths];

type ItemOf<P extends TenantListPath> =
  paths[P]['get']['responses'][200]['content']['application/json']['items'][number];

/**
 * `usePaged` over a tenant's list route; when `allowed` is false (the viewer may not read it) the list is
 * empty without asking.
 */
export function useTenantPages<P extends TenantListPath>(path: P, tenantId: string, allowed = true) {
  return usePaged<ItemOf<P>>(
    async (cursor) => {
      if (!allowed) return { items: [], nextCursor: null };
      // openapi-fetch cannot check a call whose path is a type parameter; TenantListPath says what it takes.
      const init = { params: { path: { tenantId }, query: { cursor } } } as never;
      return ok(await api.GET(path, init)) as Page<ItemOf<P>>;
    },
    [tenantId],
  );
}

/** "Load more" under a paginated list. */
export function MoreButton({
  pager,
  label,
}: {
  pager: { hasMore: boolean; loading: boolean; more: () => Promise<void> };
  label: string;
}) {
  if (!pager.hasMore) return null;
  return (
    <p>
      <button
        type="button"
        disabled={pager.loading}
        aria-busy={pager.loading}
        onClick={() => void pager.more()}
      >
        {pager.loading ? 'Loading…' : label}
      </button>
    </p>
  );
}
