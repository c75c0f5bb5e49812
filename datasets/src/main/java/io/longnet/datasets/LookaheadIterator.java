package io.longnet.datasets;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * An iterator that finds each element ahead of {@link #next} (Guava's {@code AbstractIterator}, which this
 * module does not depend on): subclasses say only how to find the next element.
 */
abstract class LookaheadIterator<T> implements Iterator<T> {

    private T next;

    /** The next element, or {@code null} when there is none (asked again, it stays {@code null}). */
    protected abstract T computeNext();

    @Override
    public final boolean hasNext() {
        if (next == null) {
            next = computeNext();
        }
        return next != null;
    }

    @Override
    public final T next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        T t = next;
        next = null;
        return t;
    }
}
