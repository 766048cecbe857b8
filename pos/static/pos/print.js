document.getElementById("print-button").addEventListener("click", () => window.print());
