// The console's one script: a copy button for a secret shown once. Without it the secret
// stays in a read-only field to select and copy by hand.
for (const button of document.querySelectorAll("[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(field.value);
    const note = document.querySelector("[data-copied]");
    if (note) note.hidden = false;
  });
}
