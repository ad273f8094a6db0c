/* Demo page: the hero button opens the chat widget (which loads asynchronously). */
document.getElementById("open-chat").addEventListener("click", function () {
  if (window.ConciergeWidget) window.ConciergeWidget.open();
});
