// Pages loaded on first visit, kept apart from the routes so a page can warm the next one's chunk.
export const loadRunPage = () => import("./Run");
