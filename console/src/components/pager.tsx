import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiProblem } from '../api/client';
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
